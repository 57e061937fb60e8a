package alg

import (
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/statewall/statewall/dataplane/packet"
)

func v4(a, b, c, d byte) (r [16]byte) {
	r[0], r[1], r[2], r[3] = a, b, c, d
	return r
}

// master returns a control connection tuple client:sport -> server:21.
func master(client byte, sport uint16) packet.Tuple {
	return packet.Tuple{Src: v4(10, 0, 0, client), Dst: v4(10, 0, 1, 1), SrcPort: sport, DstPort: 21,
		Proto: packet.ProtoTCP, Family: packet.FamilyIPv4}
}

// pasv returns the expectation a 227 reply on m announcing port creates.
func pasv(m packet.Tuple, port uint16, expires uint32) Expectation {
	return Expectation{Family: m.Family, Proto: packet.ProtoTCP, Src: m.Src, Dst: m.Dst, DstPort: port,
		Master: m, Helper: "ftp", Expires: expires}
}

// dataSYN returns the tuple of a data connection's first packet from
// the client of m to port.
func dataSYN(m packet.Tuple, sport, port uint16) *packet.Tuple {
	return &packet.Tuple{Src: m.Src, Dst: m.Dst, SrcPort: sport, DstPort: port, Proto: packet.ProtoTCP, Family: m.Family}
}

func TestExpectationsMatchConsumes(t *testing.T) {
	x := NewExpectations(8)
	m := master(2, 40000)
	if r := x.Add(0, pasv(m, 5000, 1000), 1); r != packet.ReasonNone {
		t.Fatalf("Add = %v", r)
	}
	if x.Len() != 1 {
		t.Fatalf("Len = %d", x.Len())
	}
	other := *dataSYN(m, 1, 5000)
	other.Src = v4(10, 0, 0, 3)
	wrongPort := dataSYN(m, 1, 5001)
	udp := *dataSYN(m, 1, 5000)
	udp.Proto = packet.ProtoUDP
	reversed := packet.Tuple{Src: m.Dst, Dst: m.Src, SrcPort: 5000, DstPort: 1234, Proto: packet.ProtoTCP, Family: packet.FamilyIPv4}
	for name, tu := range map[string]*packet.Tuple{"other source": &other, "other port": wrongPort, "udp": &udp, "reversed": &reversed} {
		if x.Match(10, tu) {
			t.Errorf("%s matched", name)
		}
	}
	var got Expectation
	if !x.Take(10, dataSYN(m, 33333, 5000), &got) {
		t.Fatal("data SYN from any source port did not match")
	}
	if got.Master != m || got.Helper != "ftp" || got.DstPort != 5000 {
		t.Errorf("took %+v", got)
	}
	if x.Match(11, dataSYN(m, 33334, 5000)) {
		t.Error("expectation matched twice")
	}
	s := x.Stats()
	if s.Created != 1 || s.Matched != 1 || x.Len() != 0 {
		t.Errorf("stats %+v len %d", s, x.Len())
	}
}

func TestExpectationsPerMasterLimit(t *testing.T) {
	x := NewExpectations(16)
	m, other := master(2, 40000), master(3, 40000)
	x.Add(0, pasv(m, 5000, 1000), 1)
	x.Add(0, pasv(other, 6000, 1000), 1)
	x.Add(1, pasv(m, 5001, 1000), 1) // replaces 5000
	if x.Match(2, dataSYN(m, 1, 5000)) {
		t.Error("replaced expectation still matches")
	}
	if !x.Match(2, dataSYN(m, 1, 5001)) {
		t.Error("newest expectation does not match")
	}
	if !x.Match(2, dataSYN(other, 1, 6000)) {
		t.Error("other master's expectation was evicted")
	}
	if s := x.Stats(); s.Replaced != 1 {
		t.Errorf("Replaced = %d", s.Replaced)
	}

	// A limit of 3 keeps the 3 newest.
	for p := uint16(1); p <= 5; p++ {
		x.Add(uint32(10+p), pasv(m, 7000+p, 1000), 3)
	}
	if x.Len() != 3 {
		t.Fatalf("Len = %d, want 3", x.Len())
	}
	for p := uint16(1); p <= 5; p++ {
		if got, want := x.Match(20, dataSYN(m, 1, 7000+p)), p >= 3; got != want {
			t.Errorf("port %d: match %v, want %v", 7000+p, got, want)
		}
	}
}

func TestExpectationsRearmAndClash(t *testing.T) {
	x := NewExpectations(16)
	m, other := master(2, 40000), master(2, 40001) // same client, two sessions
	x.Add(0, pasv(m, 5000, 1000), 1)
	if r := x.Add(500, pasv(m, 5000, 1500), 1); r != packet.ReasonNone {
		t.Fatalf("re-arm = %v", r)
	}
	if x.Len() != 1 {
		t.Fatalf("Len = %d after re-arm", x.Len())
	}
	if r := x.Add(600, pasv(other, 5000, 1600), 1); r != packet.ReasonALGExpectFull {
		t.Fatalf("clash = %v, want %v", r, packet.ReasonALGExpectFull)
	}
	if !x.Match(1200, dataSYN(m, 1, 5000)) { // alive thanks to the re-arm
		t.Error("re-armed expectation lapsed at its first deadline")
	}
	s := x.Stats()
	if s.Created != 2 || s.Rearmed != 1 || s.Refused[RefusedClash] != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestExpectationsTimeoutWraps(t *testing.T) {
	for _, now := range []uint32{0, 1 << 31, 0xffffffff - 100} {
		x := NewExpectations(4)
		m := master(2, 40000)
		x.Add(now, pasv(m, 5000, now+300), 1)
		x.Add(now, pasv(master(3, 1), 5000, now+300), 1)
		if !x.Match(now+299, dataSYN(m, 1, 5000)) {
			t.Errorf("now=%#x: live expectation did not match", now)
		}
		if x.Match(now+300, dataSYN(master(3, 1), 1, 5000)) {
			t.Errorf("now=%#x: expectation matched at its deadline", now)
		}
		if s := x.Stats(); s.Expired != 1 || x.Len() != 0 {
			t.Errorf("now=%#x: stats %+v len %d", now, s, x.Len())
		}
	}
}

func TestExpectationsExpireAndFull(t *testing.T) {
	x := NewExpectations(2)
	x.Add(0, pasv(master(1, 1), 5000, 100), 1)
	x.Add(0, pasv(master(2, 1), 5000, 200), 1)
	if r := x.Add(50, pasv(master(3, 1), 5000, 300), 1); r != packet.ReasonALGExpectFull {
		t.Fatalf("Add to a full table = %v", r)
	}
	if s := x.Stats(); s.Refused[RefusedFull] != 1 {
		t.Errorf("Refused[full] = %d", s.Refused[RefusedFull])
	}
	// A full table reaps what lapsed before refusing.
	if r := x.Add(150, pasv(master(3, 1), 5000, 300), 1); r != packet.ReasonNone {
		t.Fatalf("Add after one lapsed = %v", r)
	}
	if n := x.Expire(199); n != 0 {
		t.Errorf("Expire(199) = %d", n)
	}
	if n := x.Expire(250); n != 1 {
		t.Errorf("Expire(250) = %d", n)
	}
	if n := x.Expire(1000); n != 1 || x.Len() != 0 {
		t.Errorf("Expire(1000) = %d, Len %d", n, x.Len())
	}
	if s := x.Stats(); s.Expired != 3 {
		t.Errorf("Expired = %d", s.Expired)
	}
}

func TestExpectationsRemoveMasterAndRange(t *testing.T) {
	x := NewExpectations(8)
	m, other := master(2, 40000), master(3, 40000)
	x.Add(0, pasv(m, 5000, 1000), 0)
	x.Add(0, pasv(m, 5001, 1000), 0)
	x.Add(0, pasv(other, 6000, 1000), 0)
	x.RemoveMaster(m)
	if x.Len() != 1 || x.Stats().Removed != 2 {
		t.Fatalf("Len %d stats %+v", x.Len(), x.Stats())
	}
	var seen []Expectation
	x.Range(func(e Expectation) bool { seen = append(seen, e); return true })
	if len(seen) != 1 || seen[0].Master != other || seen[0].DstPort != 6000 {
		t.Errorf("Range saw %+v", seen)
	}
}

func TestRefusalString(t *testing.T) {
	want := []string{"bounce", "full", "clash", "parse"}
	for i, w := range want {
		if got := Refusal(i).String(); got != w {
			t.Errorf("Refusal(%d) = %q, want %q", i, got, w)
		}
	}
	if Refusal(NumRefusals).String() != "unknown" {
		t.Error("out of range refusal")
	}
}

func TestExpectationsNoAllocs(t *testing.T) {
	x := NewExpectations(64)
	m := master(2, 40000)
	miss := dataSYN(master(9, 1), 1, 1)
	if n := testing.AllocsPerRun(1000, func() { x.Match(0, miss) }); n != 0 {
		t.Errorf("Match on empty table: %v allocs", n)
	}
	port := uint16(1)
	if n := testing.AllocsPerRun(1000, func() {
		port++
		x.Add(0, pasv(m, port, 1000), 1)
		x.Match(1, dataSYN(m, 7, port))
		x.Match(1, miss)
	}); n != 0 {
		t.Errorf("Add+Match: %v allocs", n)
	}
}

// TestExpectationsModel drives a small table (many hash collisions)
// with random operations and compares it with a map model.
func TestExpectationsModel(t *testing.T) {
	type key struct {
		client byte
		port   uint16
	}
	type entry struct {
		master  packet.Tuple
		expires uint32
		seq     int
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const capacity = 8
	x := NewExpectations(capacity)
	model := map[key]entry{}
	seq := 0
	now := uint32(0xffffff00) // wraps during the run
	for step := range 20000 {
		now += uint32(rng.IntN(20))
		client := byte(rng.IntN(4))
		m := master(client, uint16(rng.IntN(2)))
		port := uint16(5000 + rng.IntN(6))
		k := key{client, port}
		switch op := rng.IntN(10); {
		case op < 5: // Add with a per-master limit of 2
			e := pasv(m, port, now+uint32(50+rng.IntN(100)))
			got := x.Add(now, e, 2)
			// Model: drop lapsed, handle same key, evict master's oldest, capacity.
			for mk, me := range model {
				if int32(now-me.expires) >= 0 {
					delete(model, mk)
				}
			}
			want := packet.ReasonNone
			if old, ok := model[k]; ok {
				if old.master != m {
					want = packet.ReasonALGExpectFull
				} else {
					delete(model, k)
				}
			}
			if want == packet.ReasonNone {
				for {
					n, oldest, oldestSeq := 0, key{}, -1
					for mk, me := range model {
						if me.master == m {
							n++
							if oldestSeq < 0 || me.seq < oldestSeq {
								oldest, oldestSeq = mk, me.seq
							}
						}
					}
					if n < 2 {
						break
					}
					delete(model, oldest)
				}
				if len(model) >= capacity {
					want = packet.ReasonALGExpectFull
				} else {
					seq++
					model[k] = entry{master: m, expires: e.Expires, seq: seq}
				}
			}
			if got != want {
				t.Fatalf("step %d: Add = %v, want %v", step, got, want)
			}
		case op < 9: // Match
			got := x.Match(now, dataSYN(m, 1, port))
			me, ok := model[k]
			want := ok && int32(now-me.expires) < 0
			delete(model, k)
			if got != want {
				t.Fatalf("step %d: Match = %v, want %v", step, got, want)
			}
		default:
			x.Expire(now)
			for mk, me := range model {
				if int32(now-me.expires) >= 0 {
					delete(model, mk)
				}
			}
		}
		if step%7 != 0 {
			continue // leave lapsed entries for Add and Match to meet
		}
		x.Expire(now)
		for mk, me := range model {
			if int32(now-me.expires) >= 0 {
				delete(model, mk)
			}
		}
		if x.Len() != len(model) {
			t.Fatalf("step %d: Len = %d, model %d", step, x.Len(), len(model))
		}
	}
}

func TestExpectationsConcurrent(t *testing.T) {
	x := NewExpectations(64)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for i := range 5000 {
				now := uint32(i)
				m := master(byte(rng.IntN(16)), uint16(w))
				port := uint16(5000 + rng.IntN(32))
				switch rng.IntN(8) {
				case 0, 1, 2:
					x.Add(now, pasv(m, port, now+uint32(rng.IntN(200))), 2)
				case 3, 4, 5:
					x.Match(now, dataSYN(m, 9, port))
				case 6:
					x.Expire(now)
				default:
					if rng.IntN(8) == 0 {
						x.RemoveMaster(m)
					}
					_ = x.Stats()
					x.Range(func(Expectation) bool { return false })
				}
			}
		}()
	}
	wg.Wait()
	s := x.Stats()
	live := s.Created - s.Rearmed - s.Replaced - s.Matched - s.Expired - s.Removed
	if int(live) != x.Len() || x.Len() > x.Cap() {
		t.Errorf("counters %+v say %d live, Len %d", s, live, x.Len())
	}
}

func BenchmarkMatchEmpty(b *testing.B) {
	x := NewExpectations(1024)
	tu := dataSYN(master(2, 1), 1, 5000)
	b.ReportAllocs()
	for b.Loop() {
		x.Match(0, tu)
	}
}

func BenchmarkMatchMiss(b *testing.B) {
	x := NewExpectations(1024)
	for i := range 1000 {
		x.Add(0, pasv(master(byte(i), uint16(i)), uint16(i), 1<<30), 1)
	}
	tu := dataSYN(master(2, 1), 1, 5000)
	b.ReportAllocs()
	for b.Loop() {
		x.Match(0, tu)
	}
}

func BenchmarkAddTake(b *testing.B) {
	x := NewExpectations(1024)
	for i := range 1000 {
		x.Add(0, pasv(master(byte(i), uint16(i)), uint16(i), 1<<30), 1)
	}
	m := master(200, 60000)
	b.ReportAllocs()
	for b.Loop() {
		x.Add(0, pasv(m, 5000, 1<<30), 1)
		x.Match(0, dataSYN(m, 1, 5000))
	}
}
