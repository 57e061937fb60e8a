package pktgen

import (
	"fmt"
	"maps"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/statewall/statewall/config"
	"github.com/statewall/statewall/dataplane/engine"
	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/dataplane/pipeline"
	"github.com/statewall/statewall/dataplane/port"
	"github.com/statewall/statewall/dataplane/port/memport"
	"github.com/statewall/statewall/dataplane/port/pcapport"
	"github.com/statewall/statewall/flowtable/ctstate"
)

// pool is what a tester port sends in one pass of its range: the
// stream's pool of frames, which pktgen then sends again and again.
func pool(s *Stream) [][]byte {
	frames := make([][]byte, PoolFrames)
	for i := range frames {
		frames[i] = append([]byte(nil), s.Next()...)
	}
	return frames
}

// tally counts outcomes by arrival port, state and verdict.
type tally map[string]int

func (c tally) Observe(o *pipeline.Outcome) {
	c[fmt.Sprintf("port%d %s %s", o.InPort, o.State, o.Verdict)]++
}

type fixedClock struct{}

func (fixedClock) NowMillis() uint32 { return 1000 }

// phased is a tester port as the firewall sees it: what the tester sends
// in the current phase of a run (nothing when cur is nil); what the
// firewall forwards to it is taken and forgotten.
type phased struct {
	name string
	cur  port.Port
}

func (p *phased) Name() string                      { return p.name }
func (p *phased) LinkType() packet.LinkType         { return packet.LinkEthernet }
func (p *phased) TxBurst(_ int, f []port.Frame) int { return len(f) }
func (p *phased) Free([]port.Frame)                 {}
func (p *phased) Stats() port.Stats                 { return port.Stats{} }
func (p *phased) Done() bool                        { return p.cur == nil || p.cur.Done() }
func (p *phased) RxBurst(q int, frames []port.Frame) int {
	if p.cur == nil {
		return 0
	}
	return p.cur.RxBurst(q, frames)
}

// runAgainstDUT runs a tester's traffic through a worker with dut.toml's
// configuration, the way the kit's scripts start the ports: one pass of
// port 0 alone, then two of both ports in step (pass(p) is what port p
// sends in one pass). Port 0's first pass opens every flow (NEW, accepted
// by the bench rules), every frame of port 1 is a reply (ESTABLISHED),
// nothing is dropped, and the firewall ends up tracking flows
// connections.
func runAgainstDUT(t *testing.T, flows int, pass func(p int) port.Port) {
	t.Helper()
	cfg, err := config.Load("dut.toml")
	if err != nil {
		t.Fatal(err)
	}
	shared, tr, err := engine.NewSingle(cfg)
	if err != nil {
		t.Fatal(err)
	}
	in, out := &phased{name: "inside"}, &phased{name: "outside"}
	got := tally{}
	// Checksums verified although dut.toml leaves them alone: the
	// tester's frames must be ones a NIC passes.
	w := pipeline.NewWorker(pipeline.Config{Burst: cfg.Dataplane.Burst, VerifyChecksums: true},
		[]pipeline.Binding{{In: in, InIndex: 0, Out: out}, {In: out, InIndex: 1, Out: in}},
		tr, shared.Ruleset, fixedClock{}, got)
	run := func(both bool) tally {
		clear(got)
		in.cur, out.cur = pass(0), nil
		if both {
			out.cur = pass(1)
		}
		for !in.Done() || !out.Done() {
			w.Poll()
		}
		return maps.Clone(got)
	}
	key := func(p int, s ctstate.State) string {
		return fmt.Sprintf("port%d %s %s", p, s, pipeline.VerdictAccept)
	}
	if g := run(false); len(g) != 1 || g[key(0, ctstate.New)] == 0 {
		t.Fatalf("port 0's first pass: %v, want all NEW and accepted", g)
	}
	// Both ports in step: every reply ESTABLISHED; port 0's frames stay
	// NEW until their flow's reply has passed.
	g := run(true)
	if g[key(1, ctstate.Established)] == 0 || len(g) > 3 || len(g) == 3 && g[key(0, ctstate.New)] == 0 {
		t.Fatalf("both ports' first pass: %v, want port 1's frames ESTABLISHED, everything accepted", g)
	}
	if g = run(true); len(g) != 2 || g[key(0, ctstate.Established)] == 0 || g[key(1, ctstate.Established)] == 0 {
		t.Fatalf("steady state: %v, want every frame each way ESTABLISHED and accepted", g)
	}
	if v4, v6 := tr.Len(); v4 != flows || v6 != 0 {
		t.Fatalf("the firewall tracks %d IPv4 and %d IPv6 connections, want %d", v4, v6, flows)
	}
}

// TestRangeScriptsAgainstDUT checks every range-mode script of the kit:
// what the model of pktgen makes of it, with the ports started as the
// script starts them, through dut.toml's firewall.
func TestRangeScriptsAgainstDUT(t *testing.T) {
	scripts, _ := filepath.Glob("*-10k.pkt")
	if len(scripts) == 0 {
		t.Fatal("no range scripts beside the test")
	}
	for _, path := range scripts {
		t.Run(path, func(t *testing.T) {
			s, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			p0, p1 := s.Ports[0], s.Ports[1]
			if p0 == nil || p1 == nil || len(s.Ports) != 2 || !p0.Range || !p1.Range {
				t.Fatalf("want tester ports 0 and 1 in range mode, got %d ports", len(s.Ports))
			}
			if p0.Flows() != 10_000 || p1.Flows() != 10_000 {
				t.Fatalf("ports send %d and %d flows, the name says 10k", p0.Flows(), p1.Flows())
			}
			checkStarts(t, s)
			pools := [][][]byte{pool(p0.Stream()), pool(p1.Stream())}
			runAgainstDUT(t, 10_000, func(p int) port.Port {
				return memport.New(fmt.Sprint(p), pools[p])
			})
		})
	}
}

// checkStarts insists on the start order the firewall needs: port 0
// first, port 1 a while later.
func checkStarts(t *testing.T, s *Script) {
	t.Helper()
	if len(s.Starts) != 2 || s.Starts[0].Port != 0 || s.Starts[1].Port != 1 || s.Starts[1].AfterMillis < 500 {
		t.Fatalf("want port 0 started, then port 1 at least 500 ms later: %+v", s.Starts)
	}
}

// TestPcapScriptAgainstDUT checks pcap.pkt with the captures the README
// has perf/gen write for a million flows, UDP and TCP: port 0 replays
// the clients' side, port 1 the servers'.
func TestPcapScriptAgainstDUT(t *testing.T) {
	if testing.Short() {
		t.Skip("a million flows: not in -short")
	}
	s, err := Load("pcap.pkt")
	if err != nil {
		t.Fatal(err)
	}
	if p0, p1 := s.Ports[0], s.Ports[1]; p0 == nil || p1 == nil || len(s.Ports) != 2 || !p0.Pcap || !p1.Pcap {
		t.Fatalf("want tester ports 0 and 1 in pcap mode")
	}
	checkStarts(t, s)
	dir := t.TempDir()
	gen := filepath.Join(dir, "gen")
	if out, err := exec.Command("go", "build", "-o", gen, "../gen").CombinedOutput(); err != nil {
		t.Fatalf("building perf/gen: %v\n%s", err, out)
	}
	const flows = 1_000_000
	for _, proto := range []string{"udp", "tcp"} {
		t.Run(proto, func(t *testing.T) {
			var captures [2]string
			for p, side := range []string{"client", "server"} {
				captures[p] = filepath.Join(dir, proto+"-"+side+".pcap")
				// The README's commands (-handshake=false is ignored for UDP).
				cmd := exec.Command(gen, "-proto", proto, "-flows", fmt.Sprint(flows), "-handshake=false", "-side", side, "-o", captures[p])
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("%v: %v\n%s", cmd, err, out)
				}
			}
			runAgainstDUT(t, flows, func(p int) port.Port {
				r, err := pcapport.Open(captures[p])
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { r.Close() })
				return pcapport.NewPort(fmt.Sprint(p), r, pipeline.MaxBurst)
			})
		})
	}
}
