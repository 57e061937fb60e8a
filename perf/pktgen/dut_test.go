package pktgen

import (
	"fmt"
	"maps"
	"path/filepath"
	"strings"
	"testing"

	"github.com/statewall/statewall/config"
	"github.com/statewall/statewall/dataplane/engine"
	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/dataplane/pipeline"
	"github.com/statewall/statewall/dataplane/port"
	"github.com/statewall/statewall/flowtable/ctstate"
)

// tester is one pktgen port as the firewall sees it: a port whose
// received frames are what the script's range makes, left at a time.
type tester struct {
	name string
	s    *Stream
	left int
	bufs [pipeline.MaxBurst][1518]byte
}

func (t *tester) Name() string              { return t.name }
func (t *tester) LinkType() packet.LinkType { return packet.LinkEthernet }
func (t *tester) TxBurst(_ int, f []port.Frame) int {
	return len(f)
}
func (t *tester) Free([]port.Frame) {}
func (t *tester) Done() bool        { return t.left == 0 }
func (t *tester) Stats() port.Stats { return port.Stats{} }
func (t *tester) RxBurst(_ int, frames []port.Frame) int {
	n := min(len(frames), t.left)
	for i := range n {
		f := t.s.Next()
		frames[i] = port.Frame{Data: t.bufs[i][:copy(t.bufs[i][:], f)]}
	}
	t.left -= n
	return n
}

// tally counts outcomes by arrival port, state and verdict.
type tally map[string]int

func (c tally) Observe(o *pipeline.Outcome) {
	c[fmt.Sprintf("port%d %s %s", o.InPort, o.State, o.Verdict)]++
}

type fixedClock struct{}

func (fixedClock) NowMillis() uint32 { return 1000 }

// TestScriptsAgainstDUT runs what every script of the kit makes pktgen
// send through a worker with dut.toml's ruleset, the way the script
// starts the ports: port 0 alone for one period of its range, then both.
// Port 0's first frames open the flows (NEW, accepted by the bench
// rules), every frame of port 1 is a reply to one of them (ESTABLISHED),
// nothing is dropped, and the firewall tracks exactly as many
// connections as the file's name says.
func TestScriptsAgainstDUT(t *testing.T) {
	cfg, err := config.Load("dut.toml")
	if err != nil {
		t.Fatal(err)
	}
	scripts, _ := filepath.Glob("*.pkt")
	if len(scripts) == 0 {
		t.Fatal("no .pkt scripts beside the test")
	}
	for _, path := range scripts {
		t.Run(path, func(t *testing.T) {
			if testing.Short() && strings.Contains(path, "-1m") {
				t.Skip("a million flows: not in -short")
			}
			s, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]int{"10k": 10_000, "1m": 1_001_000}[strings.TrimSuffix(path[strings.Index(path, "-")+1:], ".pkt")]
			p0, p1 := s.Ports[0], s.Ports[1]
			if p0 == nil || p1 == nil || len(s.Ports) != 2 {
				t.Fatalf("want tester ports 0 and 1, got %d ports", len(s.Ports))
			}
			flows := p0.Flows()
			if flows != want || p1.Flows() != want {
				t.Fatalf("ports send %d and %d flows, the name says %d", flows, p1.Flows(), want)
			}
			if len(s.Starts) != 2 || s.Starts[0].Port != 0 || s.Starts[1].Port != 1 || s.Starts[1].AfterMillis < 500 {
				t.Fatalf("want port 0 started, then port 1 at least 500 ms later: %+v", s.Starts)
			}

			shared, err := engine.NewShared(cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			tr, err := shared.NewTracker(1, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			in := &tester{name: "inside", s: p0.Stream(0)}
			out := &tester{name: "outside", s: p1.Stream(1)}
			got := tally{}
			// Checksums verified although dut.toml leaves them alone: the
			// model must make frames a NIC would pass.
			w := pipeline.NewWorker(pipeline.Config{Burst: cfg.Dataplane.Burst, VerifyChecksums: true},
				[]pipeline.Binding{{In: in, InIndex: 0, Out: out}, {In: out, InIndex: 1, Out: in}},
				tr, shared.Ruleset, fixedClock{}, got)
			run := func(n0, n1 int) tally {
				clear(got)
				in.left, out.left = n0, n1
				for !in.Done() || !out.Done() {
					w.Poll()
				}
				return maps.Clone(got)
			}

			accepted, est := pipeline.VerdictAccept.String(), ctstate.Established.String()
			// Port 0 alone: every flow opened.
			if g := run(flows, 0); g[fmt.Sprintf("port0 %s %s", ctstate.New, accepted)] != flows || len(g) != 1 {
				t.Fatalf("port 0's first period: %v, want %d NEW accepted", g, flows)
			}
			// Both ports, in step: every reply ESTABLISHED; port 0's frames
			// stay NEW until their flow's reply has passed.
			g := run(flows, flows)
			if g[fmt.Sprintf("port1 %s %s", est, accepted)] != flows {
				t.Fatalf("port 1's first period: %v, want %d ESTABLISHED accepted", g, flows)
			}
			for k, n := range g {
				if !strings.HasSuffix(k, accepted) {
					t.Fatalf("%d frames %s", n, k)
				}
			}
			// Steady state: everything ESTABLISHED.
			g = run(flows, flows)
			if g[fmt.Sprintf("port0 %s %s", est, accepted)] != flows || g[fmt.Sprintf("port1 %s %s", est, accepted)] != flows || len(g) != 2 {
				t.Fatalf("steady state: %v, want all %d frames each way ESTABLISHED accepted", g, flows)
			}
			if v4, v6 := tr.Len(); v4 != flows || v6 != 0 {
				t.Fatalf("tracker holds %d IPv4 and %d IPv6 connections, want %d", v4, v6, flows)
			}
		})
	}
}
