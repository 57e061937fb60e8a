package conntrack

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/flowtable"
	"github.com/statewall/statewall/flowtable/arena"
	"github.com/statewall/statewall/flowtable/ctstate"
)

func TestTrackDoesNotAllocate(t *testing.T) {
	tr := newTracker(t, nil)
	c := newConv(t, tr)
	c.handshake()
	data := tcpPacket(c.cli, c.srv, c.cp, c.sp, seg{flags: fACK, seq: c.nxt[0], ack: c.nxt[1], win: 1000, wscale: -1})
	udp := udpPacket(cliAddr, srvAddr, 1, 2, 10)
	echo := icmpPacket(cliAddr, srvAddr, packet.ICMPEcho, 3)
	track(tr, 2000, udp)
	track(tr, 2000, echo)
	icmpErr := icmpError(rtrAddr, cliAddr, packet.ICMPDestUnreach, c.tuple(), 0)
	newUDP := udpPacket(cliAddr, srvAddr, 5, 6, 10)
	var r Result
	for _, tc := range []struct {
		name string
		p    *packet.Parsed
		want ctstate.State
	}{
		{"tcp", data, ctstate.Established},
		{"udp", udp, ctstate.New},
		{"icmp", echo, ctstate.New},
		{"icmp error", icmpErr, ctstate.Related},
		{"new udp", newUDP, ctstate.New},
	} {
		n := testing.AllocsPerRun(1000, func() {
			tr.Track(3000, tc.p, tr.Hash(tc.p), &r)
			if tc.want == ctstate.New {
				tr.Discard(&r)
			}
			_ = tr.Confirm(3000, tc.p, &r)
			_ = tr.VerdictCache(&r)
		})
		if n != 0 {
			t.Errorf("%s: %v allocations per packet", tc.name, n)
		}
		if r.State != tc.want {
			t.Errorf("%s: %+v", tc.name, r)
		}
	}
}

// benchFlows sets up n established TCP connections and returns the
// tracker, a template packet per direction, and the clients' next
// sequence numbers.
type benchFlows struct {
	tr   *Tracker
	n    int
	perm []uint32
}

// benchISN is flow i's client ISN; after r rounds of 100-byte segments its
// next sequence number is benchISN(i)+1+100r.
func benchISN(i int) uint32 { return uint32(i) * 7919 }

const benchServerISN = 7000

func flowTuple(p *packet.Parsed, i int, reply bool) {
	var cli [4]byte
	binary.BigEndian.PutUint32(cli[:], 0x0a000000+uint32(i))
	t := &p.Tuple
	srv := [4]byte{198, 19, 0, 1}
	if reply {
		copy(t.Src[:], srv[:])
		copy(t.Dst[:], cli[:])
		t.SrcPort, t.DstPort = 80, 40000
	} else {
		copy(t.Src[:], cli[:])
		copy(t.Dst[:], srv[:])
		t.SrcPort, t.DstPort = 40000, 80
	}
}

// arenaTracker builds a tracker with options o whose IPv4 table lives in
// arena memory (hugepages where there are some), as the daemon's does.
func arenaTracker(b *testing.B, o Options) *Tracker {
	mem, _, err := arena.Alloc(flowtable.Size[flowtable.Key4, Conn](o.Capacity4) + 64)
	if err != nil {
		b.Fatal(err)
	}
	o.Mem4 = mem
	tr, err := New(o, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	return tr
}

func setupFlows(b *testing.B, n int) *benchFlows {
	o := DefaultOptions()
	o.Capacity4, o.Capacity6 = n+n/8, 16
	tr := arenaTracker(b, o)
	f := &benchFlows{tr: tr, n: n, perm: make([]uint32, n)}
	p := tcpPacket(cliAddr, srvAddr, 40000, 80, seg{wscale: -1})
	var r Result
	send := func(i int, reply bool, flags uint8, seq, ack uint32) {
		flowTuple(p, i, reply)
		p.TCP.Flags, p.TCP.Seq, p.TCP.Ack, p.TCP.Window = flags, seq, ack, 65535
		tr.Track(1000, p, tr.Hash(p), &r)
		if r.State == ctstate.Invalid {
			b.Fatalf("setup flow %d: %+v", i, r)
		}
	}
	for i := range n {
		isn := benchISN(i)
		send(i, false, fSYN, isn, 0)
		send(i, true, fSYN|fACK, benchServerISN, isn+1)
		send(i, false, fACK, isn+1, benchServerISN+1)
		f.perm[i] = uint32(i)
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(n, func(i, j int) { f.perm[i], f.perm[j] = f.perm[j], f.perm[i] })
	return f
}

// BenchmarkTrackEstablished tracks packets of established TCP connections
// in random flow order, alternating client data and the server's ACK, in
// bursts of 32 (hash and prefetch the burst, then track it).
func BenchmarkTrackEstablished(b *testing.B) {
	for _, n := range []int{10_000, 1_000_000} {
		b.Run(fmt.Sprintf("flows=%d", n), func(b *testing.B) {
			f := setupFlows(b, n)
			const burst = 32
			var ps [burst]packet.Parsed
			var hs [burst]uint64
			var rs [burst]Result
			for i := range ps {
				ps[i] = *tcpPacket(cliAddr, srvAddr, 40000, 80, seg{wscale: -1})
			}
			pos, round, reply := 0, uint32(0), false
			invalid := 0
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := threadCPU()
			for done := 0; done < b.N; done += burst {
				for j := range burst {
					i := int(f.perm[pos])
					p := &ps[j]
					flowTuple(p, i, reply)
					seq := benchISN(i) + 1 + 100*round
					if reply {
						p.TCP.Flags, p.TCP.Seq, p.TCP.Ack, p.PayloadLen = fACK, benchServerISN+1, seq+100, 0
					} else {
						p.TCP.Flags, p.TCP.Seq, p.TCP.Ack, p.PayloadLen = fACK|fPSH, seq, benchServerISN+1, 100
					}
					hs[j] = f.tr.Hash(p)
					f.tr.Prefetch(hs[j])
					if pos++; pos == f.n {
						pos, reply = 0, !reply
						if !reply {
							round++
						}
					}
				}
				for j := range burst {
					f.tr.PrefetchEntry(hs[j])
				}
				for j := range burst {
					f.tr.Track(2000, &ps[j], hs[j], &rs[j])
					if rs[j].State != ctstate.Established {
						invalid++
					}
				}
			}
			b.StopTimer()
			reportCPU(b, cpu0)
			if invalid > 0 {
				b.Fatalf("%d packets not ESTABLISHED", invalid)
			}
		})
	}
}

// BenchmarkTrackNewConnections creates a connection per packet (a SYN
// with a fresh tuple). "room": the table has room for every one; "full": a
// table of 1M entries kept full, where every insert first drops a
// non-assured SYN_SENT entry early (the flow table's eviction scan).
func BenchmarkTrackNewConnections(b *testing.B) {
	for _, mode := range []string{"room", "full"} {
		b.Run(mode, func(b *testing.B) {
			o := DefaultOptions()
			o.Capacity4, o.Capacity6 = 1<<20, 16
			if mode == "room" {
				o.Capacity4 = max(b.N+b.N/8, 1024)
			}
			tr := arenaTracker(b, o)
			p := tcpPacket(cliAddr, srvAddr, 40000, 80, seg{flags: fSYN, seq: 1, win: 65535, wscale: -1})
			var r Result
			start := 0
			if mode == "full" {
				for i := range o.Capacity4 {
					newSYN(tr, p, i, &r)
				}
				start = o.Capacity4
			}
			refused := 0
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := threadCPU()
			for i := range b.N {
				if newSYN(tr, p, start+i, &r); r.State != ctstate.New {
					refused++
				}
			}
			b.StopTimer()
			reportCPU(b, cpu0)
			if refused > 0 {
				b.Fatalf("%d SYNs refused", refused)
			}
			s := tr.Stats()
			b.ReportMetric(float64(s.TCP.EarlyDrops)/float64(b.N), "evictions/op")
		})
	}
}

// reportCPU adds the thread CPU time per op (robust to a busy, shared
// machine) and the packet rate it implies.
func reportCPU(b *testing.B, cpu0 int64) {
	if cpu1 := threadCPU(); cpu0 >= 0 && cpu1 > cpu0 {
		ns := float64(cpu1-cpu0) / float64(b.N)
		b.ReportMetric(ns, "cpu-ns/op")
		b.ReportMetric(1e3/ns, "cpu-Mpps")
	}
}

func newSYN(tr *Tracker, p *packet.Parsed, i int, r *Result) {
	binary.BigEndian.PutUint32(p.Tuple.Src[:], 0x0a000000+uint32(i>>14))
	p.Tuple.SrcPort = uint16(1024 + i&0x3fff)
	tr.Track(1000, p, tr.Hash(p), r)
}
