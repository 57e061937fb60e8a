//go:build linux && cgo && !nodpdk && !dpdk_static

package dpdk

// DPDK's shared libraries; the EAL loads the PMDs from its plugin
// directory at start-up. net_ring is linked by name: ringport.go calls
// its API (rte_eth_from_rings).

/*
#cgo pkg-config: libdpdk
#cgo LDFLAGS: -lrte_net_ring
*/
import "C"
