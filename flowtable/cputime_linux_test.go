package flowtable

import "syscall"

// threadCPU returns the calling thread's CPU time (user+system) in ns, or -1.
// Benchmarks lock their goroutine to its thread and report CPU time per op
// besides wall time: on a shared 2-core machine wall time counts the time
// other processes hold the core.
func threadCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		return -1
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
