//go:build linux && cgo && !nodpdk

package dpdk

/*
#cgo noescape sw_ring_enqueue
#cgo nocallback sw_ring_enqueue
#cgo noescape sw_ring_dequeue
#cgo nocallback sw_ring_dequeue
#include <stdlib.h>
#include "sw_dpdk.h"
*/
import "C"

import (
	"fmt"
	"syscall"
	"unsafe"

	"github.com/statewall/statewall/dataplane/port"
)

// Ring is a single-producer single-consumer ring of frames (mbuf
// pointers) that hands packets from the worker that read them to the
// worker that owns their connection. One goroutine enqueues, one dequeues.
type Ring struct {
	r      *C.struct_sw_ring
	name   string
	enq    []uintptr    // over r.enq: the producer's burst array
	frames []port.Frame // over r.frames: the consumer's (see cFrames)
}

// NewRing creates a ring named name (unique in the process) of size slots
// (a power of two; it holds size-1 frames) on a NUMA socket (-1: any),
// moving up to burst frames per call (0: DefaultBurst).
func (e *EAL) NewRing(name string, size, burst, socket int) (*Ring, error) {
	if burst <= 0 {
		burst = DefaultBurst
	}
	burst = min(burst, 1024)
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	r := C.sw_ring_new(cname, C.uint(size), C.uint16_t(burst), C.int(socket))
	if r == nil {
		return nil, fmt.Errorf("dpdk: ring %s of %d: %w", name, size, syscall.Errno(C.sw_errno()))
	}
	return &Ring{
		r:      r,
		name:   name,
		enq:    unsafe.Slice((*uintptr)(unsafe.Pointer(r.enq)), burst),
		frames: cFrames(r.frames, burst),
	}, nil
}

// Name is the ring's name.
func (r *Ring) Name() string { return r.name }

// Enqueue adds frames to the ring and returns how many it took (the ring
// owns those; the caller frees or retries the rest). One cgo call per
// burst.
func (r *Ring) Enqueue(frames []port.Frame) int {
	total := 0
	for total < len(frames) {
		chunk := frames[total:min(len(frames), total+len(r.enq))]
		for i := range chunk {
			r.enq[i] = chunk[i].Handle
		}
		got := int(C.sw_ring_enqueue(r.r, C.uint(len(chunk))))
		total += got
		if got < len(chunk) {
			break
		}
	}
	return total
}

// Dequeue fills frames with up to len(frames) frames from the ring and
// returns how many. One cgo call.
func (r *Ring) Dequeue(frames []port.Frame) int {
	n := int(C.sw_ring_dequeue(r.r, C.uint(min(len(frames), len(r.frames)))))
	return copy(frames, r.frames[:n])
}

// Len is the number of frames in the ring.
func (r *Ring) Len() int { return int(C.sw_ring_count(r.r)) }

// Close frees the frames still in the ring and the ring itself.
func (r *Ring) Close() {
	if r.r != nil {
		C.sw_ring_free(r.r)
		r.r = nil
	}
}
