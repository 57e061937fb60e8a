package rules

import (
	"fmt"
	"syscall"
	"time"

	"github.com/statewall/statewall/config"
	"testing"

	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/flowtable/ctstate"
)

// cpuTime is the process's user plus system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type benchInput struct {
	ps   []packet.Parsed
	sts  []ctstate.State
	dirs []ctstate.Dir
	ins  []uint16
}

// shapes of benchmark rulesets.
var shapes = []string{"firewall", "firewall-sets", "mixed", "specific"}

func shapeConfig(g *gen, shape string, n int) *config.Config {
	switch shape {
	case "firewall":
		return g.firewall(n)
	case "firewall-sets":
		g.sets = true
		return g.firewall(n)
	case "specific":
		g.specific = true
	}
	return g.config(n)
}

func benchSetup(n int, shape string, npkts int) (*gen, *Ruleset, *benchInput) {
	g := newGen(uint64(n)+99, 2)
	cfg := shapeConfig(g, shape, n)
	rs, err := Compile(cfg, 1)
	if err != nil {
		panic(err)
	}
	in := &benchInput{ps: make([]packet.Parsed, npkts), sts: make([]ctstate.State, npkts),
		dirs: make([]ctstate.Dir, npkts), ins: make([]uint16, npkts)}
	for i := range in.ps {
		in.sts[i], in.dirs[i], in.ins[i] = g.packet(cfg, &in.ps[i])
	}
	return g, rs, in
}

// BenchmarkClassify measures lookups on random rulesets: "firewall" is
// shaped like a large enterprise firewall (see gen.firewall),
// "firewall-sets" has a fifth of its rules name several networks and
// ports (as set references expand), "mixed" draws
// each field with odds 1/1..1/4, "specific" constrains proto, src, dst and
// dport in every rule (ClassBench-like firewall rules); packets are drawn
// mostly from inside random rules, so decisions come from deep rules.
// pkts is the working set of distinct packets cycled through: 1024 keeps
// the inputs cache-hot as a worker's burst is; 16384 adds a cache miss per
// packet read and spreads lookups over more of the tree.
func BenchmarkClassify(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		for _, shape := range shapes {
			for _, npkts := range []int{1 << 10, 1 << 14} {
				b.Run(fmt.Sprintf("rules=%d/%s/pkts=%d", n, shape, npkts), func(b *testing.B) {
					_, rs, in := benchSetup(n, shape, npkts)
					mask := len(in.ps) - 1
					b.ReportAllocs()
					b.ResetTimer()
					cpu0 := cpuTime()
					for i := 0; i < b.N; i++ {
						j := i & mask
						rs.Classify(&in.ps[j], in.sts[j], in.dirs[j], in.ins[j])
					}
					cpu := cpuTime() - cpu0
					b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mlookups/s")
					// CPU time, not wall time: the figure per core even when
					// other processes share the machine.
					b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
				})
			}
		}
	}
}

// BenchmarkCompile measures compiling a validated configuration.
func BenchmarkCompile(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		for _, shape := range shapes {
			b.Run(fmt.Sprintf("rules=%d/%s", n, shape), func(b *testing.B) {
				g := newGen(uint64(n)+99, 2)
				cfg := shapeConfig(g, shape, n)
				b.ReportAllocs()
				cpu0 := cpuTime()
				for i := 0; i < b.N; i++ {
					if _, err := Compile(cfg, 1); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
				rs, _ := Compile(cfg, 1)
				b.ReportMetric(float64(rs.MemoryBytes())/(1<<20), "MiB")
				tree := 0.0
				if rs.filter.tree != nil {
					tree = 1
				}
				b.ReportMetric(tree, "tree")
			})
		}
	}
}
