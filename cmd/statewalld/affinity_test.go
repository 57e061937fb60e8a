package main

import (
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// TestConfineThreads runs confineThreads in a child process (it changes
// the affinity of the whole process): afterwards every thread runs on
// CPU 0 only, except one pinned elsewhere before, which keeps its CPU.
func TestConfineThreads(t *testing.T) {
	if runtime.NumCPU() < 2 {
		t.Skip("needs two CPUs")
	}
	if os.Getenv("STATEWALL_CONFINE_CHILD") == "1" {
		confineChild(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^TestConfineThreads$", "-test.v")
	cmd.Env = append(os.Environ(), "STATEWALL_CONFINE_CHILD=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

func confineChild(t *testing.T) {
	pinned := make(chan int)
	release := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		var one unix.CPUSet
		one.Set(1)
		if err := unix.SchedSetaffinity(0, &one); err != nil {
			t.Error(err)
		}
		pinned <- unix.Gettid()
		<-release
	}()
	worker := <-pinned
	defer close(release)
	if err := confineThreads(0); err != nil {
		t.Fatal(err)
	}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		tid, _ := strconv.Atoi(task.Name())
		var set unix.CPUSet
		if err := unix.SchedGetaffinity(tid, &set); err != nil {
			continue // exited
		}
		want := 0
		if tid == worker {
			want = 1
		}
		if set.Count() != 1 || !set.IsSet(want) {
			t.Errorf("thread %d may run on %d CPUs (CPU %d set: %v), want CPU %d alone", tid, set.Count(), want, set.IsSet(want), want)
		}
	}
}
