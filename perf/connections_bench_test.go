package perf

import (
	"fmt"
	"strings"
	"testing"

	"github.com/statewall/statewall/config"
	"github.com/statewall/statewall/config/configtest"
	"github.com/statewall/statewall/dataplane/engine"
	"github.com/statewall/statewall/dataplane/pipeline"
	"github.com/statewall/statewall/dataplane/port/memport"
	"github.com/statewall/statewall/flowtable/conntrack"
	"github.com/statewall/statewall/perf/traffic"
)

// connConns is how many connections the connection-rate benchmark
// cycles through: a tuple comes round again only after its last
// connection's TIME_WAIT (120 s) has run out on the benchmark's clock.
const connConns = 65536

// connTick is how far the benchmark's clock moves per poll: 4
// connections' worth of segments per burst of 32 at 10 ms a burst is 400
// new connections a (virtual) second, so a cycle of connConns takes 164
// s, more than TIME_WAIT.
const connTick = 10

// connRuleset is the bench ruleset with extra rules ahead of the one
// that admits the connections (NEW TCP to port 80): rules that each
// match a NEW TCP port of their own and drop, the kind of list a
// firewall grows.
func connRuleset(maxFlows, extra int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[conntrack]\nmax_flows = %d\n%s", maxFlows, configtest.Stateful)
	for i := range extra {
		fmt.Fprintf(&b, "\n[[rule]]\nname = \"deny-%d\"\nct_state = \"NEW\"\nproto = \"tcp\"\ndport = %d\naction = \"drop\"\n", i, 10000+i)
	}
	b.WriteString("\n[[rule]]\nname = \"web\"\nct_state = \"NEW\"\nproto = \"tcp\"\ndst = [\"198.19.0.0/24\", \"fd00::c613:0/120\"]\ndport = 80\naction = \"accept\"\n")
	return b.String()
}

// connWorker builds a worker that loops over traffic.Connections(n) with
// the connection ruleset (extra rules ahead of the accepting one), over
// IPv6 with v6, its table sized from max_flows (twice n), and a clock the
// caller moves.
func connWorker(tb testing.TB, n, extra int, v6, checksum bool, clk *clock) (*pipeline.Worker, *conntrack.Tracker) {
	tb.Helper()
	c, err := config.Parse("connections.toml", []byte(connRuleset(2*n, extra)))
	if err != nil {
		tb.Fatal(err)
	}
	shared, tr, err := engine.NewSingle(c)
	if err != nil {
		tb.Fatal(err)
	}
	frames := traffic.Connections(n)
	if v6 {
		frames = traffic.IPv6(frames)
	}
	in := memport.New("in", frames, memport.Loop())
	return pipeline.NewWorker(pipeline.Config{Burst: 32, VerifyChecksums: checksum}, []pipeline.Binding{{In: in, Out: memport.New("out", nil)}},
		tr, shared.Ruleset, clk, nil), tr
}

// TestConnectionsOpenAndClose: every segment of the connection
// benchmark's traffic is accepted, and each connection ends in
// TIME_WAIT, so the benchmark measures whole connections, not drops.
func TestConnectionsOpenAndClose(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		t.Run(fmt.Sprintf("ipv6=%v", v6), func(t *testing.T) { connectionsOpenAndClose(t, v6) })
	}
}

func connectionsOpenAndClose(t *testing.T, v6 bool) {
	const n = 4096
	clk := &clock{ms: 1000}
	w, tr := connWorker(t, n, 100, v6, false, clk)
	frames := 0
	for frames < 8*n {
		frames += w.Poll()
		clk.ms += connTick
	}
	var got pipeline.Counters
	w.Publish()
	w.Snapshot(&got)
	if got.ByVerdict[pipeline.VerdictAccept] != uint64(8*n) {
		t.Fatalf("%d of %d segments accepted", got.ByVerdict[pipeline.VerdictAccept], 8*n)
	}
	states := map[string]int{}
	tr.Range(func(e conntrack.EntryInfo) bool {
		states[e.TCPState.String()]++
		return true
	})
	if states["TIME_WAIT"] != n || len(states) != 1 {
		t.Fatalf("connections end in %v, want all %d in TIME_WAIT", states, n)
	}
}

// BenchmarkPipelineConnections is the connection rate: whole TCP
// connections (handshake, a data segment each way, FIN each way, last
// ACK: 8 segments) through the worker, 32 connections overlapping,
// each a new flow-table entry classified by the ruleset (with 0 or 1000
// rules ahead of the accepting one) and, two minutes later on the
// benchmark's clock, expired; over IPv4, and over IPv6 with 3 rules, and
// over IPv4 with transport checksums verified ([conntrack] checksum). One
// op is one burst of 32 segments.
func BenchmarkPipelineConnections(b *testing.B) {
	for _, c := range []struct {
		extra    int
		v6       bool
		checksum bool
	}{{0, false, false}, {1000, false, false}, {0, true, false}, {0, false, true}} {
		name := fmt.Sprintf("rules=%d", c.extra+3)
		if c.v6 {
			name += "/ipv6"
		}
		if c.checksum {
			name += "/checksum"
		}
		b.Run(name, func(b *testing.B) {
			clk := &clock{ms: 1000}
			w, _ := connWorker(b, connConns, c.extra, c.v6, c.checksum, clk)
			for range 8 * connConns / 32 { // one cycle: the table at its steady size
				w.Poll()
				clk.ms += connTick
			}
			var before pipeline.Counters
			w.Publish()
			w.Snapshot(&before)
			b.ReportAllocs()
			b.ResetTimer()
			pkts := 0
			for i := 0; i < b.N; i++ {
				pkts += w.Poll()
				clk.ms += connTick
			}
			b.StopTimer()
			var after pipeline.Counters
			w.Publish()
			w.Snapshot(&after)
			if acc := after.ByVerdict[pipeline.VerdictAccept] - before.ByVerdict[pipeline.VerdictAccept]; acc != uint64(pkts) {
				b.Fatalf("%d of %d segments accepted", acc, pkts)
			}
			report(b, pkts)
			b.ReportMetric(float64(pkts)/8/b.Elapsed().Seconds()/1e6, "Mconn/s")
		})
	}
}
