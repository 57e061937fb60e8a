//go:build linux && cgo && !nodpdk

package dpdk

/*
#cgo CFLAGS: -O3 -Wno-deprecated-declarations
#include <stdlib.h>
#include <rte_eal.h>
#include <rte_lcore.h>
#include "sw_dpdk.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"syscall"
	"unsafe"
)

// EAL is the initialised DPDK environment abstraction layer of this
// process. There is at most one per process: see Init.
type EAL struct {
	argv   []*C.char
	closed bool
}

// Init initialises DPDK's EAL with args (EAL options only, without a
// program name: for example "--no-huge", "--no-pci", "-l", "0"). It may be
// called once per process: DPDK keeps its state in process globals and a
// second call fails, also after Cleanup.
//
// EAL pins the calling thread to the main lcore; Init runs it on a
// dedicated locked thread and restores that thread's affinity afterwards,
// so no Go thread is left pinned. Worker goroutines that want per-lcore
// mempool caches call RegisterThread.
func Init(args []string) (*EAL, error) {
	e := &EAL{}
	all := append([]string{"statewalld"}, args...)
	for _, a := range all {
		e.argv = append(e.argv, C.CString(a))
	}
	// argv lives in C memory: EAL may keep pointers into it.
	cargv := (**C.char)(C.calloc(C.size_t(len(e.argv)+1), C.size_t(unsafe.Sizeof((*C.char)(nil)))))
	copy(unsafe.Slice(cargv, len(e.argv)), e.argv)
	type result struct{ ret C.int }
	done := make(chan result)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		done <- result{C.sw_eal_init(C.int(len(e.argv)), cargv)}
	}()
	r := <-done
	C.free(unsafe.Pointer(cargv))
	if r.ret < 0 {
		e.freeArgs()
		errno := syscall.Errno(-r.ret)
		if errno == syscall.EALREADY {
			return nil, fmt.Errorf("dpdk: EAL already initialised in this process: %w", errno)
		}
		return nil, fmt.Errorf("dpdk: rte_eal_init %q: %w", args, errno)
	}
	return e, nil
}

func (e *EAL) freeArgs() {
	for _, p := range e.argv {
		C.free(unsafe.Pointer(p))
	}
	e.argv = nil
}

// Cleanup releases EAL resources (rte_eal_cleanup). Ports, pools, rings and
// memory must have been released first. The EAL cannot be initialised again
// in this process afterwards.
func (e *EAL) Cleanup() error {
	if e.closed {
		return nil
	}
	e.closed = true
	ret := C.rte_eal_cleanup()
	e.freeArgs()
	if ret < 0 {
		return fmt.Errorf("dpdk: rte_eal_cleanup: %w", syscall.Errno(-ret))
	}
	return nil
}

// HasHugepages reports whether EAL memory is backed by hugepages (false
// with --no-huge).
func (e *EAL) HasHugepages() bool { return C.rte_eal_has_hugepages() != 0 }

// SocketCount is the number of NUMA sockets DPDK detected.
func (e *EAL) SocketCount() int { return int(C.rte_socket_count()) }

// LcoreCount is the number of lcores enabled by the EAL arguments.
func (e *EAL) LcoreCount() int { return int(C.rte_lcore_count()) }

// MainLcore is the lcore id of the EAL main lcore.
func (e *EAL) MainLcore() int { return int(C.rte_get_main_lcore()) }

// LcoreSocket is the NUMA socket of an lcore id (0 when unknown).
func (e *EAL) LcoreSocket(lcore int) int {
	s := int(C.rte_lcore_to_socket_id(C.uint(lcore)))
	if s < 0 {
		return 0
	}
	return s
}

// errLcore is returned when the thread could not get an lcore id.
var errLcore = errors.New("dpdk: no free lcore id for this thread")

// RegisterThread gives the calling OS thread a DPDK lcore id
// (rte_thread_register), so that mempool operations from it use a
// per-lcore cache. Call it from a goroutine locked with
// runtime.LockOSThread, and UnregisterThread before unlocking.
func (e *EAL) RegisterThread() (int, error) {
	if C.rte_thread_register() != 0 {
		return -1, fmt.Errorf("%w: %w", errLcore, syscall.Errno(C.sw_errno()))
	}
	return int(C.sw_lcore_id()), nil
}

// UnregisterThread releases the calling thread's lcore id.
func (e *EAL) UnregisterThread() { C.rte_thread_unregister() }

// WorkerLcores returns the lcores of the EAL's core list (-l, --lcores)
// other than the main lcore, in order: the cores a DPDK application runs
// its workers on.
func (e *EAL) WorkerLcores() []int {
	var ls []int
	for l := C.rte_get_next_lcore(C.uint(math.MaxUint32), 1, 0); l < C.RTE_MAX_LCORE; l = C.rte_get_next_lcore(l, 1, 0) {
		ls = append(ls, int(l))
	}
	return ls
}

// LcoreCPU returns the CPU lcore runs on (-l maps lcore n to CPU n;
// --lcores can map it elsewhere), or -1 for an lcore the EAL does not
// have.
func (e *EAL) LcoreCPU(lcore int) int {
	if lcore < 0 || lcore >= C.RTE_MAX_LCORE || C.rte_lcore_is_enabled(C.uint(lcore)) == 0 {
		return -1
	}
	return int(C.rte_lcore_to_cpu_id(C.int(lcore)))
}

// PinThread sets the calling OS thread's CPU affinity to one CPU. Call it
// from a goroutine locked with runtime.LockOSThread.
func PinThread(cpu int) error {
	if ret := C.sw_pin_thread(C.int(cpu)); ret != 0 {
		return fmt.Errorf("dpdk: pin thread to cpu %d: %w", cpu, syscall.Errno(-ret))
	}
	return nil
}
