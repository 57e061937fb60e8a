package perf

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/statewall/statewall/config"
	"github.com/statewall/statewall/config/configtest"
	"github.com/statewall/statewall/dataplane/engine"
	"github.com/statewall/statewall/dataplane/metrics"
	"github.com/statewall/statewall/dataplane/pipeline"
	"github.com/statewall/statewall/dataplane/port"
	"github.com/statewall/statewall/dataplane/port/memport"
	"github.com/statewall/statewall/flowtable/arena"
	"github.com/statewall/statewall/flowtable/conntrack"
	"github.com/statewall/statewall/perf/traffic"
)

// benchConfig is a firewall-shaped ruleset: established traffic accepted
// by the first rule, new connections only to a few services.
const benchConfig = `
[conntrack]
max_flows = %d

` + configtest.Stateful + `
[[rule]]
name = "web"
ct_state = "NEW"
proto = "tcp"
dst = ["198.19.0.0/24", "fd00::c613:0/120"]
dport = [80, 443]
action = "accept"

[[rule]]
name = "dns"
ct_state = "NEW"
proto = "udp"
dst = ["198.19.0.0/24", "fd00::c613:0/120"]
dport = [53]
action = "accept"
`

type clock struct{ ms uint32 }

func (c *clock) NowMillis() uint32 { return c.ms }

// setup builds a worker whose table holds n established flows and whose
// port loops over their data and ACK frames.
func setup(b *testing.B, n int, cfg pipeline.Config) (*pipeline.Worker, *engine.Runtime) {
	b.Helper()
	shared, tr := newTracker(b, n, false)
	w := warmWorker(b, cfg, shared, tr, traffic.Handshakes(n), traffic.Established(n))
	rt := &engine.Runtime{Shared: shared, Pipelines: []*pipeline.Worker{w}, Started: time.Now()}
	return w, rt
}

// warmWorker runs the frames that set up the flows through a worker once
// (the ruleset must accept them all), then returns a worker that loops
// over steady, after one pass over it: every flow's entry warm, every
// verdict cached.
func warmWorker(b *testing.B, cfg pipeline.Config, shared *engine.Shared, tr *conntrack.Tracker, setUp, steady [][]byte, opts ...memport.Option) *pipeline.Worker {
	b.Helper()
	clk := &clock{ms: 1000}
	out := memport.New("out", nil)
	w := pipeline.NewWorker(cfg, []pipeline.Binding{{In: memport.New("setup", setUp), Out: out}}, tr, shared.Ruleset, clk, nil)
	for !w.Done() {
		w.Poll()
	}
	var got pipeline.Counters
	w.Publish()
	w.Snapshot(&got)
	if got.ByVerdict[pipeline.VerdictAccept] != uint64(len(setUp)) {
		b.Fatalf("setup accepted %d of %d frames", got.ByVerdict[pipeline.VerdictAccept], len(setUp))
	}
	w = pipeline.NewWorker(cfg, []pipeline.Binding{{In: memport.New("in", steady, append(opts, memport.Loop())...), Out: out}}, tr, shared.Ruleset, clk, nil)
	for i := 0; i < len(steady)/cfg.Burst+1; i++ {
		w.Poll()
	}
	return w
}

// newTracker builds the bench ruleset's engine and a tracker for n flows
// (IPv6 ones with v6) with its tables in an arena, as the daemon has them.
func newTracker(b *testing.B, n int, v6 bool) (*engine.Shared, *conntrack.Tracker) {
	b.Helper()
	size6 := 4 << 20
	if v6 {
		size6 = max(n*128, 8<<20)
	}
	c, err := config.Parse("bench.toml", []byte(fmt.Sprintf(benchConfig, 2*n+1024)))
	if err != nil {
		b.Fatal(err)
	}
	shared, err := engine.NewShared(c, nil)
	if err != nil {
		b.Fatal(err)
	}
	// Tables in an arena as the daemon has them: hugepages when the
	// machine has some reserved (deploy/hugepages.sh), else ordinary pages.
	// 128 bytes per flow: 128 MiB for a million.
	mem4, huge, err := arena.Alloc(int64(max(n*128, 8<<20)))
	if err != nil {
		b.Fatal(err)
	}
	mem6, _, err := arena.Alloc(int64(size6))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = arena.Free(mem4); _ = arena.Free(mem6) })
	if !huge {
		b.Logf("no hugepages reserved: flow tables on ordinary pages")
	}
	tr, err := shared.NewTracker(1, mem4, mem6)
	if err != nil {
		b.Fatal(err)
	}
	return shared, tr
}

// pollTimed polls w b.N times, timed, and reports the packet rate.
func pollTimed(b *testing.B, w *pipeline.Worker) {
	b.ReportAllocs()
	b.ResetTimer()
	pkts := 0
	for i := 0; i < b.N; i++ {
		pkts += w.Poll()
	}
	report(b, pkts)
}

func report(b *testing.B, pkts int) {
	b.ReportMetric(float64(pkts)/b.Elapsed().Seconds()/1e6, "Mpps")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(pkts), "ns/pkt")
}

// BenchmarkIOFloor moves the same frames from an in-memory port to another
// with no processing at all: the floor the pipeline's figures compare to.
func BenchmarkIOFloor(b *testing.B) {
	in := memport.New("in", traffic.Established(10000), memport.Loop())
	out := memport.New("out", nil)
	var frames [32]portFrame
	b.ReportAllocs()
	b.ResetTimer()
	pkts := 0
	for i := 0; i < b.N; i++ {
		n := in.RxBurst(0, frames[:])
		out.TxBurst(0, frames[:n])
		pkts += n
	}
	report(b, pkts)
}

// BenchmarkPipeline runs established TCP traffic (data and ACKs in both
// directions, flows in scrambled order, bursts of 32) through the whole
// worker: parse, hash and prefetch, track with window checks, classify
// (or hit the verdict cache), forward. One op is one burst.
func BenchmarkPipeline(b *testing.B) {
	benchPipeline(b, false, func(n int) (setUp, steady [][]byte) {
		return traffic.Handshakes(n), traffic.Established(n)
	})
}

// BenchmarkPipeline6 is BenchmarkPipeline over IPv6: the same segments
// between fd00::/96 addresses (traffic.IPv6).
func BenchmarkPipeline6(b *testing.B) {
	benchPipeline(b, true, func(n int) (setUp, steady [][]byte) {
		return traffic.IPv6(traffic.Handshakes(n)), traffic.IPv6(traffic.Established(n))
	})
}

// BenchmarkPipelineUDP is BenchmarkPipeline for UDP flows: a query and
// its reply per flow, flows in scrambled order, after one round that
// created and replied every flow.
func BenchmarkPipelineUDP(b *testing.B) {
	benchPipeline(b, false, func(n int) (setUp, steady [][]byte) {
		f := traffic.Exchanges(n)
		return f, f
	})
}

// BenchmarkPipelineUDP6 is BenchmarkPipelineUDP over IPv6 (traffic.IPv6).
func BenchmarkPipelineUDP6(b *testing.B) {
	benchPipeline(b, true, func(n int) (setUp, steady [][]byte) {
		f := traffic.IPv6(traffic.Exchanges(n))
		return f, f
	})
}

// benchPipeline runs the steady traffic of n flows that flows makes
// (IPv6 ones with v6) through a worker, at 300 (tables below the
// prefetch threshold, in L1 and L2), 10k and 1M flows, with and
// without the verdict cache.
func benchPipeline(b *testing.B, v6 bool, flows func(n int) (setUp, steady [][]byte)) {
	for _, n := range []int{300, 10_000, 1_000_000} {
		for _, cache := range []bool{true, false} {
			b.Run(fmt.Sprintf("flows=%d/cache=%v", n, cache), func(b *testing.B) {
				shared, tr := newTracker(b, n, v6)
				setUp, steady := flows(n)
				pollTimed(b, warmWorker(b, pipeline.Config{Burst: 32, NoVerdictCache: !cache}, shared, tr, setUp, steady))
			})
		}
	}
}

// BenchmarkPipelineChecksum is BenchmarkPipeline at 10k flows with TCP
// checksums verified ([conntrack] checksum = true, as Linux's
// nf_conntrack_checksum): summed in software (nic=false), or found correct
// by the NIC's receive offload (nic=true: every frame marked so).
func BenchmarkPipelineChecksum(b *testing.B) {
	const n = 10_000
	for _, nic := range []bool{false, true} {
		b.Run(fmt.Sprintf("nic=%v", nic), func(b *testing.B) {
			shared, tr := newTracker(b, n, false)
			steady := traffic.Established(n)
			var opts []memport.Option
			if nic {
				marks := make([]port.Verified, len(steady))
				for i := range marks {
					marks[i] = port.VerifiedIPv4 | port.VerifiedL4
				}
				opts = append(opts, memport.Verified(marks))
			}
			pollTimed(b, warmWorker(b, pipeline.Config{Burst: 32, VerifyChecksums: true}, shared, tr, traffic.Handshakes(n), steady, opts...))
		})
	}
}

// BenchmarkPipelineScraped is BenchmarkPipeline at 10k flows while a
// Prometheus registry with the engine's collector is scraped once a
// second (scrape=true) or never: their ratio is what scraping costs.
func BenchmarkPipelineScraped(b *testing.B) {
	for _, scrape := range []bool{false, true} {
		b.Run(fmt.Sprintf("scrape=%v", scrape), func(b *testing.B) {
			w, rt := setup(b, 10_000, pipeline.Config{Burst: 32})
			reg := prometheus.NewRegistry()
			reg.MustRegister(metrics.NewCollector(rt))
			stop := make(chan struct{})
			var wg sync.WaitGroup
			if scrape {
				wg.Add(1)
				go func() {
					defer wg.Done()
					t := time.NewTicker(time.Second)
					defer t.Stop()
					for {
						if _, err := reg.Gather(); err != nil {
							b.Error(err)
						}
						select {
						case <-stop:
							return
						case <-t.C:
						}
					}
				}()
			}
			b.ReportAllocs()
			b.ResetTimer()
			pkts := 0
			for i := 0; i < b.N; i++ {
				pkts += w.Poll()
			}
			b.StopTimer()
			close(stop)
			for done := false; !done; { // let a scrape waiting on the worker finish
				ch := make(chan struct{})
				go func() { wg.Wait(); close(ch) }()
				select {
				case <-ch:
					done = true
				case <-time.After(time.Millisecond):
					w.Poll()
				}
			}
			report(b, pkts)
		})
	}
}
