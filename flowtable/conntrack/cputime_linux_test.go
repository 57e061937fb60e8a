//go:build linux

package conntrack

import "syscall"

// threadCPU returns the calling thread's CPU time in ns (-1 if unknown);
// benchmarks lock their goroutine to the thread while measuring.
func threadCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		return -1
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
