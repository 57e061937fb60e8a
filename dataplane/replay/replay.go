// Package replay runs a capture file through the same engine the daemon
// runs (parse, track, classify, ALG), using the capture's timestamps as
// the clock, and reports what happened to every packet: one JSON object
// per frame plus a summary. It is the contract `statewall replay` offers
// operators and tests, and needs no DPDK.
package replay

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/statewall/statewall/config"
	"github.com/statewall/statewall/dataplane/engine"
	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/dataplane/pipeline"
	"github.com/statewall/statewall/dataplane/port"
	"github.com/statewall/statewall/dataplane/port/pcapport"
)

// Options say what to replay and how.
type Options struct {
	// Config is the configuration whose conntrack options, ALG settings
	// and ruleset apply; nil means engine.DefaultConfig (accept all).
	Config *config.Config
	// InPort is the index of the [[port]] the capture's frames arrive on
	// (rules' in_port/in_role see it); 0 by default.
	InPort uint16
	// Out receives one JSON line per frame; nil writes none.
	Out io.Writer
	// Observer, when set, is told every outcome too (tests use it).
	Observer pipeline.Observer
	// Step, when not zero, replaces the capture's timestamps with a clock
	// that advances by Step per frame from the first frame's time: the
	// pacing Linux's recorded answers were made with (2 ms), under which
	// no entry of a long capture times out.
	Step time.Duration
}

// Summary counts what a replay did.
type Summary struct {
	Frames    uint64
	ByState   map[string]uint64
	ByVerdict map[string]uint64
	ByReason  map[string]uint64
	ByRule    map[string]uint64
}

// Write prints the summary as aligned text.
func (s *Summary) Write(w io.Writer) {
	fmt.Fprintf(w, "frames: %d\n", s.Frames)
	for _, sec := range []struct {
		name string
		m    map[string]uint64
	}{{"state", s.ByState}, {"verdict", s.ByVerdict}, {"reason", s.ByReason}, {"rule", s.ByRule}} {
		keys := make([]string, 0, len(sec.m))
		for k := range sec.m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%s=%d", k, sec.m[k]))
		}
		fmt.Fprintf(w, "%-8s %s\n", sec.name+":", strings.Join(parts, " "))
	}
}

type collector struct {
	sum  *Summary
	json *jsonWriter
	next pipeline.Observer
	err  error
	now  uint32 // the last frame's time, milliseconds
}

func (c *collector) Observe(o *pipeline.Outcome) {
	s := c.sum
	s.Frames++
	if o.Timestamp != 0 {
		c.now = uint32(o.Timestamp / 1e6)
	}
	s.ByState[StateName(o)]++
	s.ByVerdict[o.Verdict.String()]++
	if o.Reason != packet.ReasonNone {
		s.ByReason[o.Reason.String()]++
	}
	if r := RuleName(o); r != "" {
		s.ByRule[r]++
	}
	if c.json != nil && c.err == nil {
		c.err = c.json.write(o)
	}
	if c.next != nil {
		c.next.Observe(o)
	}
}

// noClock is the clock of a replay worker: time comes from the frames.
type noClock struct{}

func (noClock) NowMillis() uint32 { return 0 }

// File replays the capture at path.
func File(path string, opts Options) (*Summary, error) {
	r, err := pcapport.Open(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	cfg := opts.Config
	if cfg == nil {
		cfg = engine.DefaultConfig()
	}
	shared, tracker, err := engine.NewSingle(cfg)
	if err != nil {
		return nil, err
	}
	var src source = pcapport.NewPort("capture", r, pipeline.MaxBurst)
	if opts.Step > 0 {
		src = &steppedPort{Port: src.(*pcapport.Port), step: int64(opts.Step)}
	}
	sink := discard{}
	sum := &Summary{ByState: map[string]uint64{}, ByVerdict: map[string]uint64{}, ByReason: map[string]uint64{}, ByRule: map[string]uint64{}}
	col := &collector{sum: sum, next: opts.Observer}
	if opts.Out != nil {
		col.json = newJSONWriter(opts.Out)
	}
	// Captures are often taken on the sender, before a transmit offload
	// filled in IPv4 header checksums, and of loopback traffic.
	parse := packet.Options{IPv4Checksum: packet.ChecksumVerifyNonZero, Loopback: true}
	w := pipeline.NewWorker(pipeline.Config{Burst: 32, AcceptNonIP: true, FrameClock: true, VerifyChecksums: cfg.Conntrack.Checksum, Parse: parse},
		[]pipeline.Binding{{In: src, InIndex: opts.InPort, Out: sink}}, tracker, shared.Ruleset, noClock{}, col)
	for !w.Done() {
		if w.Poll() == 0 && src.Done() {
			break
		}
		if shared.Expectations != nil {
			shared.Expectations.Expire(col.now)
		}
	}
	if col.json != nil {
		if err := col.json.flush(); err != nil && col.err == nil {
			col.err = err
		}
	}
	if col.err != nil {
		return sum, col.err
	}
	if err := src.Err(); err != nil {
		return sum, &ReadError{Path: path, Frames: sum.Frames, Err: err}
	}
	return sum, nil
}

// ReadError says a capture could not be read to its end: the frames
// before the damage were replayed.
type ReadError struct {
	Path   string
	Frames uint64 // frames replayed before the error
	Err    error
}

func (e *ReadError) Error() string {
	return fmt.Sprintf("%s: reading stopped after %d frames: %v", e.Path, e.Frames, e.Err)
}

func (e *ReadError) Unwrap() error { return e.Err }

// source is the capture port, with or without a stepped clock.
type source interface {
	port.Port
	FrameLink(i int) packet.LinkType
	Err() error
}

// steppedPort gives frames evenly spaced timestamps.
type steppedPort struct {
	*pcapport.Port
	step int64
	next int64
}

func (s *steppedPort) RxBurst(q int, frames []port.Frame) int {
	n := s.Port.RxBurst(q, frames)
	for i := 0; i < n; i++ {
		if s.next == 0 {
			s.next = frames[i].Timestamp
		}
		frames[i].Timestamp = s.next
		s.next += s.step
	}
	return n
}

// discard is the output port of a replay: accepted frames go nowhere.
type discard struct{}

func (discard) Name() string                      { return "discard" }
func (discard) LinkType() packet.LinkType         { return packet.LinkEthernet }
func (discard) RxBurst(int, []port.Frame) int     { return 0 }
func (discard) TxBurst(_ int, f []port.Frame) int { return len(f) }
func (discard) Free([]port.Frame)                 {}
func (discard) Done() bool                        { return true }
func (discard) Stats() port.Stats                 { return port.Stats{} }
