package flowtable

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/statewall/statewall/flowtable/arena"
)

// Benchmarks. Each runs its table in an arena of the named page kind:
// huge (MAP_HUGETLB; skipped when none are reserved), thp (ordinary mapping,
// MADV_HUGEPAGE) and 4k (MADV_NOHUGEPAGE). Mpps and inserts/s are reported
// as metrics. Run with:
//
//	go test ./flowtable -run '^$' -bench . -benchtime 2000000x -count 5

const burst = 32

var pageKinds = []arena.Pages{arena.PagesHuge, arena.PagesDefault, arena.PagesSmall}

func pagesName(p arena.Pages) string {
	switch p {
	case arena.PagesHuge:
		return "huge"
	case arena.PagesDefault:
		return "thp"
	}
	return "4k"
}

// benchTable builds a table of the given capacity in an arena of page kind p.
func benchTable(b *testing.B, capacity int, p arena.Pages) *table4 {
	b.Helper()
	mem, huge, err := arena.AllocPages(Size[Key4, tcpState](capacity), p)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { arena.Free(mem) })
	if p == arena.PagesHuge && !huge {
		b.Skip("no hugepages reserved (HugePages_Free in /proc/meminfo)")
	}
	tb, err := New[Key4, tcpState](Config{Capacity: capacity, Mem: mem})
	if err != nil {
		b.Fatal(err)
	}
	return tb
}

// randomKey returns a random IPv4 TCP key.
func randomKey(rng *rand.Rand) Key4 {
	v := rng.Uint64()
	return NewKey4(uint32(v), 198<<24|18<<16|uint32(v>>32)&0xffff, uint16(v>>48), 443, 6, 0)
}

// fill inserts n distinct random keys and returns them.
func fill(b *testing.B, tb *table4, n int, rng *rand.Rand) []Key4 {
	keys := make([]Key4, 0, n)
	for len(keys) < n {
		k := randomKey(rng)
		h := k.Hash()
		if tb.Lookup(k, h) != 0 {
			continue
		}
		r, _ := tb.Insert(k, h, 0)
		if r == 0 {
			b.Fatal("fill: insert failed")
		}
		e := tb.Entry(r)
		e.Flags, e.Expires = FlagAssured, 1<<30
		keys = append(keys, k)
	}
	return keys
}

// clock measures a benchmark's thread CPU time next to its wall time.
type clock struct{ begin, paused int64 }

// startClock locks the benchmark to its thread and resets the timers.
func startClock(b *testing.B) *clock {
	runtime.LockOSThread()
	b.Cleanup(runtime.UnlockOSThread)
	b.ReportAllocs()
	b.ResetTimer()
	return &clock{begin: threadCPU()}
}

// stop stops the benchmark timer and the CPU clock.
func (c *clock) stop(b *testing.B) {
	b.StopTimer()
	c.paused = threadCPU()
}

// start restarts them.
func (c *clock) start(b *testing.B) {
	c.begin += threadCPU() - c.paused
	b.StartTimer()
}

// report adds the rate per second of wall time (unit) and the CPU ns per op
// and rate per CPU second ("cpu-" + unit).
func (c *clock) report(b *testing.B, ops int, unit string) {
	cpu := threadCPU() - c.begin
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(ops)/s/1e6, unit)
	}
	if c.begin >= 0 && cpu > 0 {
		b.ReportMetric(float64(cpu)/float64(ops), "cpu-ns/op")
		b.ReportMetric(float64(ops)/(float64(cpu)/1e9)/1e6, "cpu-"+unit)
	}
}

// BenchmarkLookupUpdate: established traffic over n flows in random order, in
// bursts of 32: hash every packet (and prefetch), then look up and write each
// entry. One op is one packet. Modes: none (no prefetch), bucket (Prefetch per
// packet), entry (Prefetch, then a second pass of PrefetchEntryFor, then
// Lookup), burst (LookupBurst with prefetch), auto (LookupBurst with
// PrefetchUseful deciding).
func BenchmarkLookupUpdate(b *testing.B) {
	for _, flows := range []int{10_000, 100_000, 1_000_000} {
		for _, p := range pageKinds {
			for _, mode := range []string{"none", "bucket", "entry", "burst", "auto"} {
				name := fmt.Sprintf("flows=%s/pages=%s/prefetch=%s", flowsName(flows), pagesName(p), mode)
				b.Run(name, func(b *testing.B) {
					rng := rand.New(rand.NewPCG(1, uint64(flows)))
					tb := benchTable(b, flows, p)
					keys := fill(b, tb, flows, rng)
					// A stream of packets of random flows, each flow seen about
					// 4 times (at least 64k packets): read sequentially, as a
					// NIC's descriptors would be.
					stream := make([]Key4, max(1<<16, 4*flows))
					for i := range stream {
						stream[i] = keys[rng.IntN(len(keys))]
					}
					var hashes [burst]uint64
					var refs [burst]Ref
					now := uint32(1000)
					c := startClock(b)
					pos := 0
					for done := 0; done < b.N; done += burst {
						if pos+burst > len(stream) {
							pos = 0
						}
						pkts := stream[pos : pos+burst]
						pos += burst
						if mode == "burst" || mode == "auto" {
							for i := range pkts {
								hashes[i] = pkts[i].Hash()
							}
							tb.LookupBurst(pkts, hashes[:], refs[:], mode == "burst" || tb.PrefetchUseful())
							for i := range pkts {
								if refs[i] == 0 {
									b.Fatal("miss")
								}
								e := tb.Entry(refs[i])
								e.Expires = now + 432000000
								e.Value.W[0]++
							}
							continue
						}
						for i := range pkts {
							hashes[i] = pkts[i].Hash()
							if mode != "none" {
								tb.Prefetch(hashes[i])
							}
						}
						if mode == "entry" {
							for i := range pkts {
								tb.PrefetchEntryFor(hashes[i])
							}
						}
						for i := range pkts {
							r := tb.Lookup(pkts[i], hashes[i])
							if r == 0 {
								b.Fatal("miss")
							}
							e := tb.Entry(r)
							e.Expires = now + 432000000
							e.Value.W[0]++
						}
					}
					c.report(b, (b.N+burst-1)/burst*burst, "Mpps")
				})
			}
		}
	}
}

func flowsName(n int) string {
	switch {
	case n >= 1_000_000:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1000:
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}

// BenchmarkInsert: new connections into a table of 1M entries (filled from
// empty to full, then reset off the clock); one op is a lookup miss plus an
// insert, as a NEW packet costs.
func BenchmarkInsert(b *testing.B) {
	const capacity = 1 << 20
	for _, p := range pageKinds {
		b.Run("pages="+pagesName(p), func(b *testing.B) {
			tb := benchTable(b, capacity, p)
			rng := rand.New(rand.NewPCG(7, 8))
			keys := make([]Key4, capacity)
			for i := range keys {
				keys[i] = randomKey(rng)
				keys[i].Ports = keys[i].Ports&^0xffff | uint32(uint16(i)) // distinct: (A, PortA) random, low bits of i
				keys[i].B = keys[i].B&^0xffff | uint32(i>>16)&0xffff
			}
			c := startClock(b)
			for done := 0; done < b.N; {
				n := min(b.N-done, capacity)
				for i := range n {
					k := keys[i]
					h := k.Hash()
					if tb.Lookup(k, h) != 0 {
						b.Fatal("unexpected hit")
					}
					r, _ := tb.Insert(k, h, 0)
					if r == 0 {
						b.Fatal("insert failed")
					}
					e := tb.Entry(r)
					e.Expires, e.Value.W[0] = 120000, 1
				}
				done += n
				c.stop(b)
				tb.Reset()
				c.start(b)
			}
			c.report(b, b.N, "Minserts/s")
		})
	}
}

// BenchmarkChurn: steady state at 1M live flows; one op is a NEW connection
// (lookup miss + insert) plus the deletion of the oldest one.
func BenchmarkChurn(b *testing.B) {
	const live = 1_000_000
	for _, p := range pageKinds {
		b.Run("pages="+pagesName(p), func(b *testing.B) {
			tb := benchTable(b, live, p)
			rng := rand.New(rand.NewPCG(9, 10))
			ring := make([]Ref, live)
			for i := range ring {
				k := randomKey(rng)
				r, _ := tb.Insert(k, k.Hash(), 0)
				if r == 0 {
					r = ring[0] // improbable duplicate: keep the ring full
				}
				ring[i] = r
			}
			fresh := make([]Key4, 1<<16)
			for i := range fresh {
				fresh[i] = randomKey(rng)
			}
			c := startClock(b)
			for i := range b.N {
				slot := i % live
				tb.Delete(ring[slot])
				k := fresh[i%len(fresh)]
				k.Ports = k.Ports&^0xffff | uint32(uint16(i>>16)) // a new key each time (mostly)
				h := k.Hash()
				if r := tb.Lookup(k, h); r != 0 {
					ring[slot] = r
					continue
				}
				r, _ := tb.Insert(k, h, 0)
				ring[slot] = r
			}
			c.report(b, b.N, "Mconns/s")
		})
	}
}

// BenchmarkSweep: one op is one entry examined. scan: 1M live entries none of
// which has expired (the steady cost of the sweep); expire: every entry
// examined has expired and is reclaimed (refilled off the clock).
func BenchmarkSweep(b *testing.B) {
	const n = 1 << 20
	const budget = 1024
	b.Run("scan", func(b *testing.B) {
		tb := benchTable(b, n, arena.PagesDefault)
		fill(b, tb, n, rand.New(rand.NewPCG(1, 1)))
		c := startClock(b)
		for done := 0; done < b.N; done += budget {
			if tb.Sweep(5000, budget, nil) != 0 {
				b.Fatal("expired")
			}
		}
		c.report(b, (b.N+budget-1)/budget*budget, "Mentries/s")
	})
	b.Run("expire", func(b *testing.B) {
		tb := benchTable(b, n, arena.PagesDefault)
		rng := rand.New(rand.NewPCG(2, 2))
		keys := fill(b, tb, n, rng)
		for i := range keys {
			tb.Entry(Ref(i + 1)).Expires = 100
		}
		expired := 0
		onExpire := func(Ref, *Entry[Key4, tcpState]) { expired++ }
		c := startClock(b)
		for done := 0; done < b.N; done += budget {
			if tb.Len() == 0 {
				c.stop(b)
				for _, k := range keys {
					r, _ := tb.Insert(k, k.Hash(), 0)
					tb.Entry(r).Expires = 100
				}
				c.start(b)
			}
			tb.Sweep(200, budget, onExpire)
		}
		c.report(b, (b.N+budget-1)/budget*budget, "Mentries/s")
	})
}
