package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// confineThreads moves every thread of the process that may run on more
// than one CPU to cpu alone: the Go runtime's threads (garbage collector,
// timers, the control goroutines' threads) then keep to the main lcore's
// CPU, and the threads they start later inherit it, so none of them
// preempts a worker on its core. Threads already pinned to one CPU (the
// EAL's, the workers') are left alone.
func confineThreads(cpu int) error {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	var one unix.CPUSet
	one.Set(cpu)
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		var cur unix.CPUSet
		if err := unix.SchedGetaffinity(tid, &cur); err != nil {
			if errors.Is(err, unix.ESRCH) { // the thread has exited
				continue
			}
			return fmt.Errorf("thread %d: %w", tid, err)
		}
		if cur.Count() <= 1 {
			continue
		}
		if err := unix.SchedSetaffinity(tid, &one); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("thread %d to cpu %d: %w", tid, cpu, err)
		}
	}
	return nil
}
