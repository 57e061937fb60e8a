package pipeline_test

import (
	"testing"

	"github.com/statewall/statewall/config"
	"github.com/statewall/statewall/dataplane/engine"
	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/dataplane/pipeline"
	"github.com/statewall/statewall/dataplane/port"
	"github.com/statewall/statewall/dataplane/port/memport"
	"github.com/statewall/statewall/flowtable/ctstate"
)

// sliceRing is a FrameRing for tests: a bounded FIFO used by one goroutine.
type sliceRing struct {
	q   []port.Frame
	cap int
}

func (r *sliceRing) Enqueue(f []port.Frame) int {
	n := min(len(f), r.cap-len(r.q))
	r.q = append(r.q, f[:n]...)
	return n
}

func (r *sliceRing) Dequeue(f []port.Frame) int {
	n := copy(f, r.q)
	r.q = r.q[n:]
	return n
}

// TestSpreadKeepsEachConnectionOnOneWorker runs many connections through
// two workers sharing one port without RSS: worker 0 reads and spreads,
// worker 1 takes its share from a ring. Every packet gets the state and
// verdict it gets with one worker, and no connection is seen by both.
func TestSpreadKeepsEachConnectionOnOneWorker(t *testing.T) {
	frames := flows(40, 3)
	// One worker: the reference.
	ref := &recorder{}
	w, _, _, _ := newWorker(t, testRules, frames, pipeline.Config{Burst: 16}, ref, false)
	for !w.Done() {
		w.Poll()
	}

	c, err := config.Parse("test.toml", []byte(testRules))
	if err != nil {
		t.Fatal(err)
	}
	shared, err := engine.NewShared(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	in := memport.New("lan", frames)
	out := memport.New("wan", nil)
	ring := &sliceRing{cap: 1024}
	spread := &pipeline.Spread{Self: 0, Rings: []pipeline.FrameRing{nil, ring}, Link: packet.LinkEthernet}
	recs := []*recorder{{}, {}}
	var workers []*pipeline.Worker
	for k := 0; k < 2; k++ {
		tr, err := shared.NewTracker(2, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		b := pipeline.Binding{In: in, Out: out, Spread: spread}
		if k == 1 {
			b = pipeline.Binding{In: &pipeline.RingPort{Ring: ring, Port: in, TxQueue: 1}, Out: out, OutQ: 1}
		}
		workers = append(workers, pipeline.NewWorker(pipeline.Config{Burst: 16}, []pipeline.Binding{b}, tr, shared.Ruleset, &fixedClock{now: 1000}, recs[k]))
	}
	for !in.Done() || len(ring.q) > 0 {
		workers[0].Poll()
		workers[1].Poll()
	}
	if len(recs[0].got) == 0 || len(recs[1].got) == 0 {
		t.Fatalf("one worker got everything: %d and %d packets", len(recs[0].got), len(recs[1].got))
	}
	if n := len(recs[0].got) + len(recs[1].got); n != len(ref.got) {
		t.Fatalf("%d packets processed, want %d", n, len(ref.got))
	}
	count := func(rs []record) map[record]int {
		m := map[record]int{}
		for _, r := range rs {
			m[r]++
		}
		return m
	}
	want := count(ref.got)
	got := count(append(append([]record(nil), recs[0].got...), recs[1].got...))
	for r, n := range want {
		if got[r] != n {
			t.Errorf("%+v: %d packets with two workers, %d with one", r, got[r], n)
		}
	}
	if want[record{pipeline.VerdictAccept, 0, ctstate.Established, ctstate.Reply}] == 0 {
		t.Fatal("reference saw no established replies")
	}
	var cnt pipeline.Counters
	workers[0].Publish()
	workers[0].Snapshot(&cnt)
	if cnt.Spread != uint64(len(recs[1].got)) || cnt.SpreadDropped != 0 {
		t.Errorf("spread %d (dropped %d), worker 1 processed %d", cnt.Spread, cnt.SpreadDropped, len(recs[1].got))
	}
}
