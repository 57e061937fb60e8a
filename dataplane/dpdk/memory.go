//go:build linux && cgo && !nodpdk

package dpdk

/*
#include <rte_malloc.h>
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// memoryAlign is the alignment of AllocMemory blocks: a cache line.
const memoryAlign = 64

// AllocMemory returns bytes of zeroed DPDK memory on a NUMA socket (-1:
// any) for a flow table arena: hugepage-backed when the EAL has hugepages,
// outside the Go heap either way (the garbage collector never scans it).
// Release it with FreeMemory. With --no-huge the EAL's -m limit applies.
func (e *EAL) AllocMemory(bytes int64, socket int) ([]byte, error) {
	if bytes <= 0 {
		return nil, fmt.Errorf("dpdk: alloc %d bytes: size must be positive", bytes)
	}
	p := C.rte_zmalloc_socket(nil, C.size_t(bytes), memoryAlign, C.int(socket))
	if p == nil {
		return nil, fmt.Errorf("dpdk: alloc %d bytes on socket %d: out of DPDK memory (hugepages: %v)", bytes, socket, e.HasHugepages())
	}
	return unsafe.Slice((*byte)(p), int(bytes)), nil
}

// FreeMemory releases a block returned by AllocMemory.
func (e *EAL) FreeMemory(b []byte) {
	if cap(b) == 0 {
		return
	}
	C.rte_free(unsafe.Pointer(unsafe.SliceData(b)))
}
