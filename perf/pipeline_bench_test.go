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
	"github.com/statewall/statewall/dataplane/port/memport"
	"github.com/statewall/statewall/flowtable/arena"
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
dst = "198.19.0.0/24"
dport = [80, 443]
action = "accept"
`

type clock struct{ ms uint32 }

func (c *clock) NowMillis() uint32 { return c.ms }

// setup builds a worker whose table holds n established flows and whose
// port loops over their data and ACK frames.
func setup(b *testing.B, n int, cfg pipeline.Config) (*pipeline.Worker, *engine.Runtime) {
	b.Helper()
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
	mem6, _, err := arena.Alloc(4 << 20)
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
	clk := &clock{ms: 1000}
	hs := memport.New("setup", traffic.Handshakes(n))
	out := memport.New("out", nil)
	w := pipeline.NewWorker(cfg, []pipeline.Binding{{In: hs, Out: out}}, tr, shared.Ruleset, clk, nil)
	for !w.Done() {
		w.Poll()
	}
	var got pipeline.Counters
	w.Publish()
	w.Snapshot(&got)
	if got.ByVerdict[pipeline.VerdictAccept] != uint64(3*n) {
		b.Fatalf("setup accepted %d of %d frames", got.ByVerdict[pipeline.VerdictAccept], 3*n)
	}
	steady := memport.New("in", traffic.Established(n), memport.Loop())
	w2 := pipeline.NewWorker(cfg, []pipeline.Binding{{In: steady, Out: out}}, tr, shared.Ruleset, clk, nil)
	for i := 0; i < 2*n/cfg.Burst+1; i++ { // one pass: every flow's entry warm, ESTABLISHED both ways
		w2.Poll()
	}
	rt := &engine.Runtime{Shared: shared, Pipelines: []*pipeline.Worker{w2}, Started: time.Now()}
	return w2, rt
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
	for _, n := range []int{10_000, 1_000_000} {
		for _, cache := range []bool{true, false} {
			b.Run(fmt.Sprintf("flows=%d/cache=%v", n, cache), func(b *testing.B) {
				w, _ := setup(b, n, pipeline.Config{Burst: 32, NoVerdictCache: !cache})
				b.ReportAllocs()
				b.ResetTimer()
				pkts := 0
				for i := 0; i < b.N; i++ {
					pkts += w.Poll()
				}
				report(b, pkts)
			})
		}
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
