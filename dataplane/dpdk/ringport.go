//go:build linux && cgo && !nodpdk

package dpdk

/*
#include <stdlib.h>
#include <rte_ring.h>
#include "sw_dpdk.h"
*/
import "C"

import (
	"fmt"
	"syscall"
	"unsafe"
)

// RingPortPair is two net_ring ethdevs joined back to back inside the
// process (what one transmits the other receives), for tests of the
// dataplane without any device. Open each side with OpenPort by name.
type RingPortPair struct {
	A, B   string
	ab, ba *C.struct_rte_ring
}

// NewRingPortPair creates two ethdevs joined by two rings of size slots (a
// power of two). DPDK names them "net_ring_"+a and "net_ring_"+b (the A
// and B fields); the names cannot be reused in the process.
func (e *EAL) NewRingPortPair(a, b string, size int) (*RingPortPair, error) {
	ca, cb := C.CString(a), C.CString(b)
	defer C.free(unsafe.Pointer(ca))
	defer C.free(unsafe.Pointer(cb))
	rp := &RingPortPair{A: "net_ring_" + a, B: "net_ring_" + b}
	if ret := C.sw_ring_port_pair(ca, cb, C.uint(size), C.SOCKET_ID_ANY, &rp.ab, &rp.ba); ret != 0 {
		return nil, fmt.Errorf("dpdk: ring port pair %s/%s: %w", a, b, syscall.Errno(-ret))
	}
	return rp, nil
}

// Close frees the rings; close both ports first.
func (rp *RingPortPair) Close() {
	if rp.ab != nil {
		C.rte_ring_free(rp.ab)
		C.rte_ring_free(rp.ba)
		rp.ab, rp.ba = nil, nil
	}
}
