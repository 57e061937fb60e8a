//go:build linux && cgo && !nodpdk

package dpdk

/*
#include <stdlib.h>
#include <rte_mempool.h>
#include <rte_mbuf.h>
#include "sw_dpdk.h"
*/
import "C"

import (
	"fmt"
	"syscall"
	"unsafe"

	"github.com/statewall/statewall/dataplane/port"
)

// DefaultDataRoom is the mbuf data room for standard frames: 2048 bytes of
// data plus the headroom.
const DefaultDataRoom = C.RTE_MBUF_DEFAULT_BUF_SIZE

// Mempool is a pool of packet mbufs on one NUMA socket.
type Mempool struct {
	p    *C.struct_rte_mempool
	name string
}

// NewMempool creates a pool of n mbufs named name (unique in the process)
// with a per-lcore cache of cacheSize mbufs and dataRoom bytes of data room
// each (DefaultDataRoom for standard frames), on a NUMA socket (-1: any).
// n is best a power of two minus one.
func (e *EAL) NewMempool(name string, n, cacheSize, dataRoom, socket int) (*Mempool, error) {
	if dataRoom <= 0 || dataRoom > 65535 {
		return nil, fmt.Errorf("dpdk: mempool %s: data room %d out of range", name, dataRoom)
	}
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	p := C.sw_pool_create(cname, C.uint(n), C.uint(cacheSize), C.uint16_t(dataRoom), C.int(socket))
	if p == nil {
		return nil, fmt.Errorf("dpdk: mempool %s (%d mbufs, socket %d): %w", name, n, socket, syscall.Errno(C.sw_errno()))
	}
	return &Mempool{p: p, name: name}, nil
}

// Name is the pool's name.
func (m *Mempool) Name() string { return m.name }

// Size is the number of mbufs the pool was created with.
func (m *Mempool) Size() int { return int(m.p.size) }

// Available is the number of free mbufs in the pool (including caches).
func (m *Mempool) Available() int { return int(C.rte_mempool_avail_count(m.p)) }

// InUse is the number of mbufs taken from the pool.
func (m *Mempool) InUse() int { return int(C.rte_mempool_in_use_count(m.p)) }

// Alloc returns a frame in a new mbuf holding a copy of data, for packets
// the daemon originates (TCP resets, ICMP errors). The frame is then sent
// with TxBurst or released with Free.
func (m *Mempool) Alloc(data []byte) (port.Frame, error) {
	if len(data) == 0 || len(data) > 65535 {
		return port.Frame{}, fmt.Errorf("dpdk: mempool %s: frame of %d bytes", m.name, len(data))
	}
	var out C.struct_sw_frame
	if C.sw_mbuf_from(m.p, (*C.uint8_t)(unsafe.Pointer(&data[0])), C.uint16_t(len(data)), &out) == 0 {
		return port.Frame{}, fmt.Errorf("dpdk: mempool %s: no mbuf for %d bytes", m.name, len(data))
	}
	return *(*port.Frame)(unsafe.Pointer(&out)), nil
}

// markRxChecksums sets the RX checksum flags of f's mbuf as a NIC with
// checksum offload would (ip, l4: 1 good, -1 bad, 0 unknown; tunnel: a
// tunnel packet the NIC parsed), for tests of the receive path.
func markRxChecksums(f port.Frame, ip, l4 int, tunnel bool) {
	t := 0
	if tunnel {
		t = 1
	}
	C.sw_mbuf_set_rx_cksum(C.uintptr_t(f.Handle), C.int(ip), C.int(l4), C.int(t))
}

// Close frees the pool; every mbuf must have been returned to it.
func (m *Mempool) Close() {
	if m.p != nil {
		C.rte_mempool_free(m.p)
		m.p = nil
	}
}

// mbufHeadroom (devargs.go, pure Go) must equal DPDK's headroom: either
// array length is negative, and the build fails, if they differ.
var (
	_ [mbufHeadroom - C.RTE_PKTMBUF_HEADROOM]struct{}
	_ [C.RTE_PKTMBUF_HEADROOM - mbufHeadroom]struct{}
)
