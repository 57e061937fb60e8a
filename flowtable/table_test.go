package flowtable

import (
	"errors"
	"math/bits"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/flowtable/arena"
)

// tcpState stands in for the TCP tracker's per-connection state (36 bytes).
type tcpState struct {
	W [9]uint32
}

type table4 = Table[Key4, tcpState]

func newTable(t testing.TB, capacity int) *table4 {
	t.Helper()
	tb, err := New[Key4, tcpState](Config{Capacity: capacity, Seed: 0x5eed})
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

func key(i int) Key4 {
	return NewKey4(10<<24|uint32(i)&0xffffff, 192<<24|2<<8|1, uint16(i*7+1024), 443, packet.ProtoTCP, 0)
}

// checkInvariants verifies the index against the entries: every live entry is
// indexed exactly once within its probe window, every slot names a live entry
// with its tag, and every overflow count matches the placements.
func checkInvariants(t *testing.T, tb *table4) {
	t.Helper()
	overflow := make([]uint16, tb.nb)
	seen := make(map[Ref]bool)
	for b := range tb.nb {
		bk := tb.bucket(b)
		for i := range SlotsPerBucket {
			if bk.tag(i) == 0 {
				if bk.refs[i] != 0 {
					t.Fatalf("bucket %d slot %d: empty tag with ref %d", b, i, bk.refs[i])
				}
				continue
			}
			r := Ref(bk.refs[i])
			if !tb.isLive(r) || seen[r] {
				t.Fatalf("bucket %d slot %d: ref %d dead or indexed twice", b, i, r)
			}
			seen[r] = true
			home, tag := tb.home(tb.entry(r).Key.Hash())
			if tag != bk.tag(i) {
				t.Fatalf("ref %d: tag %x, want %x", r, bk.tag(i), tag)
			}
			d := (b + tb.nb - home) % tb.nb
			if d >= MaxProbe {
				t.Fatalf("ref %d placed %d buckets from home", r, d)
			}
			for p := home; p != b; p = (p + 1) % tb.nb {
				overflow[p]++
			}
		}
	}
	for b := range tb.nb {
		if got := tb.bucket(b).overflow(); got != uint64(overflow[b]) {
			t.Fatalf("bucket %d overflow %d, want %d", b, got, overflow[b])
		}
	}
	live := 0
	tb.Range(func(r Ref, e *Entry[Key4, tcpState]) bool {
		live++
		if !seen[r] {
			t.Fatalf("live ref %d not indexed", r)
		}
		return true
	})
	if live != tb.Len() || len(seen) != tb.Len() {
		t.Fatalf("Len %d, live %d, indexed %d", tb.Len(), live, len(seen))
	}
}

func TestDensity(t *testing.T) {
	var e Entry[Key4, tcpState]
	if unsafe.Sizeof(Key4{}) != 16 {
		t.Errorf("Key4 is %d bytes, want 16", unsafe.Sizeof(Key4{}))
	}
	if s := entryStride[Key4, tcpState](); s > 64 || unsafe.Sizeof(e) > 64 {
		t.Errorf("IPv4 entry stride %d (size %d), want <= 64", s, unsafe.Sizeof(e))
	}
	n := CapacityFor[Key4, tcpState](128 << 20)
	if n < 1<<20 {
		t.Errorf("128 MiB holds %d IPv4 connections, want >= %d", n, 1<<20)
	}
	if Size[Key4, tcpState](n) > 128<<20 || Size[Key4, tcpState](n+1) <= 128<<20 {
		t.Errorf("CapacityFor is not the largest fit: %d", n)
	}
	tb := newTable(t, 1000)
	t.Logf("IPv4: 128 MiB -> %d flows; %v; IPv6 stride %d", n, tb, entryStride[Key6, tcpState]())
}

func TestInsertLookupDeleteBothDirections(t *testing.T) {
	tb := newTable(t, 64)
	tc := tuple4([4]byte{198, 18, 0, 2}, [4]byte{198, 18, 0, 1}, 40000, 22, packet.ProtoTCP)
	k, srcIsB := MakeKey4(&tc, 0)
	r, evicted := tb.Insert(k, k.Hash(), 0)
	if r == 0 || evicted {
		t.Fatalf("Insert = %d, %v", r, evicted)
	}
	e := tb.Entry(r)
	if srcIsB {
		e.Flags |= FlagOrigIsB
	}
	e.Value.W[0] = 42
	rt := reverse(tc)
	for _, pt := range []*packet.Tuple{&tc, &rt} {
		k2, _ := MakeKey4(pt, 0)
		if got := tb.Lookup(k2, k2.Hash()); got != r {
			t.Fatalf("Lookup(%v) = %d, want %d", pt, got, r)
		}
	}
	if got := e.Key.Tuple(e.Flags&FlagOrigIsB != 0); got != tc {
		t.Fatalf("original tuple %+v, want %+v", got, tc)
	}
	other, _ := MakeKey4(&tc, 1) // another zone
	if tb.Lookup(other, other.Hash()) != 0 {
		t.Fatal("key of another zone found")
	}
	tb.Delete(r)
	if tb.Lookup(k, k.Hash()) != 0 || tb.Len() != 0 {
		t.Fatal("deleted entry still found")
	}
	tb.Delete(r) // double delete is harmless
	tb.Delete(0)
	if tb.Len() != 0 || tb.Stats().Deletes != 1 {
		t.Fatalf("double delete counted: %+v", tb.Stats())
	}
	if tb.Entry(0) != nil || tb.Entry(Ref(tb.Cap()+1)) != nil {
		t.Fatal("Entry of an invalid ref is not nil")
	}
}

func TestFullTableEarlyDrop(t *testing.T) {
	const n = 16
	tb := newTable(t, n)
	const now = 1000
	refs := make([]Ref, n)
	for i := range n {
		k := key(i)
		r, ev := tb.Insert(k, k.Hash(), now)
		if r == 0 || ev {
			t.Fatalf("insert %d: %d %v", i, r, ev)
		}
		e := tb.Entry(r)
		e.Flags = FlagAssured
		e.Expires = now + 60000
		refs[i] = r
	}
	newKey := key(100)
	if r, ev := tb.Insert(newKey, newKey.Hash(), now); r != 0 || ev {
		t.Fatalf("insert into a full assured table = %d, %v", r, ev)
	}
	if s := tb.Stats(); s.InsertFailures != 1 {
		t.Fatalf("failures %d", s.InsertFailures)
	}
	// Each kind of candidate is evicted in turn: closing, not assured, expired.
	for _, c := range []struct {
		name    string
		flags   uint8
		expires uint32
	}{
		{"closing", FlagAssured | FlagClosing, now + 60000},
		{"unassured", 0, now + 60000},
		{"expired", FlagAssured, now},
	} {
		victim := refs[5]
		e := tb.Entry(victim)
		e.Flags, e.Expires = c.flags, c.expires
		oldKey := e.Key
		r, ev := tb.Insert(newKey, newKey.Hash(), now)
		if r != victim || !ev {
			t.Fatalf("%s: Insert = %d, %v; want %d, true", c.name, r, ev, victim)
		}
		if tb.Lookup(oldKey, oldKey.Hash()) != 0 {
			t.Fatalf("%s: evicted key still found", c.name)
		}
		if tb.Lookup(newKey, newKey.Hash()) != r || tb.Entry(r).Key != newKey || tb.Entry(r).Flags != 0 {
			t.Fatalf("%s: new entry wrong: %+v", c.name, *tb.Entry(r))
		}
		if tb.Len() != n {
			t.Fatalf("%s: Len %d", c.name, tb.Len())
		}
		// Back to assured for the next round, under a fresh new key.
		tb.Entry(r).Flags, tb.Entry(r).Expires = FlagAssured, now+60000
		newKey.Ports++
	}
	if s := tb.Stats(); s.Evictions != 3 || s.InsertFailures != 1 || s.Inserts != n+3 {
		t.Fatalf("stats %+v", s)
	}
	checkInvariants(t, tb)
}

// TestEarlyDropIsNear checks that early drop only looks near the new key's
// hash: in a large full table, a non-assured entry far away is not evicted.
func TestEarlyDropIsNear(t *testing.T) {
	const n = 8000
	tb := newTable(t, n)
	for i := range n {
		k := key(i)
		r, _ := tb.Insert(k, k.Hash(), 0)
		tb.Entry(r).Flags = FlagAssured
		tb.Entry(r).Expires = 1 << 30
	}
	newKey := key(n + 1)
	home, _ := tb.home(newKey.Hash())
	far := tb.bucket((home + tb.nb/2) % tb.nb).refs[0]
	tb.Entry(Ref(far)).Flags = 0
	if r, _ := tb.Insert(newKey, newKey.Hash(), 0); r != 0 {
		t.Fatalf("evicted an entry far from the hash")
	}
	near := tb.bucket(home).refs[3]
	tb.Entry(Ref(near)).Flags = FlagAssured | FlagClosing
	if r, ev := tb.Insert(newKey, newKey.Hash(), 0); r != Ref(near) || !ev {
		t.Fatalf("Insert = %d, %v, want %d", r, ev, near)
	}
	checkInvariants(t, tb)
}

func TestStableRefs(t *testing.T) {
	const n = 5000
	tb := newTable(t, n)
	refs := make(map[int]Ref)
	ptrs := make(map[int]*Entry[Key4, tcpState])
	for i := range n {
		k := key(i)
		r, _ := tb.Insert(k, k.Hash(), 0)
		refs[i], ptrs[i] = r, tb.Entry(r)
		ptrs[i].Value.W[8] = uint32(i)
	}
	for i := 0; i < n; i += 2 {
		tb.Delete(refs[i])
		delete(refs, i)
	}
	for i := n; i < n+n/2; i++ {
		k := key(i)
		r, _ := tb.Insert(k, k.Hash(), 0)
		if r == 0 {
			t.Fatal("insert failed")
		}
	}
	for i, r := range refs {
		k := key(i)
		if got := tb.Lookup(k, k.Hash()); got != r {
			t.Fatalf("key %d moved: ref %d, want %d", i, got, r)
		}
		if tb.Entry(r) != ptrs[i] || ptrs[i].Key != k || ptrs[i].Value.W[8] != uint32(i) {
			t.Fatalf("entry %d moved or changed", i)
		}
	}
	checkInvariants(t, tb)
}

func TestExpiredWrapSafe(t *testing.T) {
	cases := []struct {
		expires, now uint32
		want         bool
	}{
		{100, 99, false},
		{100, 100, true},
		{100, 101, true},
		{5, 0xFFFFFFF0, false}, // deadline just past the wrap
		{0xFFFFFFF0, 5, true},  // now just past the wrap
		{0x7FFFFFFF, 0, false}, // 24.8 days ahead
		{0xFFFFFFFF, 0xFFFFFFFF, true},
	}
	for _, c := range cases {
		if got := Expired(c.expires, c.now); got != c.want {
			t.Errorf("Expired(%#x, %#x) = %v", c.expires, c.now, got)
		}
	}
}

func TestSweepManualClock(t *testing.T) {
	const n = 1000
	tb := newTable(t, n)
	start := uint32(0xFFFFFF00) // the clock wraps during the test
	for i := range n {
		k := key(i)
		r, _ := tb.Insert(k, k.Hash(), start)
		// Half expire after 100 ms (crossing the wrap), half after 10 s.
		if i%2 == 0 {
			tb.Entry(r).Expires = start + 100
		} else {
			tb.Entry(r).Expires = start + 10000
		}
	}
	now := start + 50
	if got := tb.Sweep(now, n, nil); got != 0 {
		t.Fatalf("swept %d before anything expired", got)
	}
	now = start + 100
	var expired []Ref
	onExpire := func(r Ref, e *Entry[Key4, tcpState]) {
		if !Expired(e.Expires, now) {
			t.Errorf("onExpire on live entry %d", r)
		}
		expired = append(expired, r)
	}
	// Bounded work: 100 positions per call, resuming where it stopped.
	total := 0
	for range n / 100 {
		d := tb.Sweep(now, 100, onExpire)
		if d > 100 {
			t.Fatalf("deleted %d with budget 100", d)
		}
		total += d
	}
	if total != n/2 || len(expired) != n/2 || tb.Len() != n/2 {
		t.Fatalf("deleted %d (callbacks %d), Len %d; want %d", total, len(expired), tb.Len(), n/2)
	}
	for i := range n {
		k := key(i)
		if found := tb.Lookup(k, k.Hash()) != 0; found != (i%2 == 1) {
			t.Fatalf("key %d found=%v after sweep", i, found)
		}
	}
	checkInvariants(t, tb)
	now = start + 10000
	if got := tb.Sweep(now, n, nil); got != n/2 || tb.Len() != 0 {
		t.Fatalf("second sweep deleted %d, Len %d", got, tb.Len())
	}
	if s := tb.Stats(); s.Expiries != n || s.Deletes != 0 {
		t.Fatalf("stats %+v", s)
	}
	// Reclaimed: the table fills again to capacity.
	for i := range n {
		k := key(i + n)
		if r, ev := tb.Insert(k, k.Hash(), now); r == 0 || ev {
			t.Fatalf("reinsert %d: %d %v", i, r, ev)
		}
	}
	checkInvariants(t, tb)
}

// TestRandomOpsAgainstMap runs random inserts, lookups, deletes, sweeps and
// early drops against a Go map model.
func TestRandomOpsAgainstMap(t *testing.T) {
	for _, capacity := range []int{1, 7, 100, 3000} {
		rng := rand.New(rand.NewPCG(uint64(capacity), 9))
		tb := newTable(t, capacity)
		model := make(map[Key4]Ref)
		byRef := make(map[Ref]Key4)
		now := uint32(0xFFFF0000)
		universe := capacity * 2
		for step := range 20000 {
			k := key(rng.IntN(universe))
			h := k.Hash()
			switch op := rng.IntN(10); {
			case op < 4: // insert if absent
				if _, ok := model[k]; ok {
					continue
				}
				r, ev := tb.Insert(k, h, now)
				if r == 0 {
					if tb.Len() != tb.Cap() {
						t.Fatalf("step %d: insert failed with %d/%d", step, tb.Len(), tb.Cap())
					}
					continue
				}
				if ev {
					old, ok := byRef[r]
					if !ok {
						t.Fatalf("step %d: eviction reused ref %d that was not live", step, r)
					}
					delete(model, old)
				} else if _, ok := byRef[r]; ok {
					t.Fatalf("step %d: ref %d handed out twice", step, r)
				}
				model[k], byRef[r] = r, k
				e := tb.Entry(r)
				e.Expires = now + uint32(rng.IntN(2000))
				if rng.IntN(3) > 0 {
					e.Flags = FlagAssured
				}
			case op < 7: // lookup
				if got := tb.Lookup(k, h); got != model[k] {
					t.Fatalf("step %d: Lookup = %d, model %d", step, got, model[k])
				}
			case op < 9: // delete
				if r, ok := model[k]; ok {
					tb.Delete(r)
					delete(model, k)
					delete(byRef, r)
				}
			default: // advance the clock and sweep a little
				now += uint32(rng.IntN(200))
				tb.Sweep(now, rng.IntN(capacity+1), func(r Ref, e *Entry[Key4, tcpState]) {
					if byRef[r] != e.Key {
						t.Fatalf("step %d: expiring ref %d key mismatch", step, r)
					}
					delete(model, e.Key)
					delete(byRef, r)
				})
			}
			if tb.Len() != len(model) {
				t.Fatalf("step %d: Len %d, model %d", step, tb.Len(), len(model))
			}
		}
		for k, r := range model {
			if tb.Lookup(k, k.Hash()) != r {
				t.Fatalf("cap %d: final lookup mismatch", capacity)
			}
		}
		checkInvariants(t, tb)
	}
}

// TestFullLoadProbeLength fills a table to capacity with random keys: no
// insert may fail, and the longest probe must stay within MaxProbe.
func TestFullLoadProbeLength(t *testing.T) {
	n := 1 << 20
	if testing.Short() {
		n = 1 << 16
	}
	tb := newTable(t, n)
	rng := rand.New(rand.NewPCG(3, 4))
	hist := make([]int, MaxProbe+1)
	for i := 0; i < n; {
		var k Key4
		*(*[2]uint64)(unsafe.Pointer(&k.A)) = [2]uint64{rng.Uint64(), rng.Uint64() & 0xFFFF_00FF_FFFF_FFFF}
		h := k.Hash()
		if tb.Lookup(k, h) != 0 {
			continue
		}
		home, _ := tb.home(h)
		r, ev := tb.Insert(k, h, 0)
		if r == 0 || ev {
			t.Fatalf("insert %d of %d failed or evicted", i, n)
		}
		tb.Entry(r).Flags = FlagAssured
		tb.Entry(r).Expires = 1 << 30
		_ = home
		i++
	}
	// Probe length (buckets read) of a successful lookup, per entry.
	tb.Range(func(r Ref, e *Entry[Key4, tcpState]) bool {
		home, _ := tb.home(e.Key.Hash())
		for d := range uint64(MaxProbe) {
			bk := tb.bucket((home + d) % tb.nb)
			for i := range SlotsPerBucket {
				if Ref(bk.refs[i]) == r {
					hist[d+1]++
					return true
				}
			}
		}
		t.Fatalf("ref %d not found in its window", r)
		return false
	})
	misses := 0 // buckets a miss reads, summed over all buckets as homes
	for b := range tb.nb {
		for d := range uint64(MaxProbe) {
			misses++
			if tb.bucket((b+d)%tb.nb).overflow() == 0 {
				break
			}
		}
	}
	t.Logf("n=%d load=%.2f max probe %d buckets; hits by buckets read %v; mean buckets per miss %.3f",
		n, float64(n)/float64(tb.nb*SlotsPerBucket), tb.Stats().MaxProbe, hist[1:],
		float64(misses)/float64(tb.nb))
	if tb.Stats().MaxProbe > MaxProbe {
		t.Fatalf("max probe %d", tb.Stats().MaxProbe)
	}
}

type withPointer struct{ P *int }
type withString struct {
	A [2]struct{ S string }
}
type ptrKey struct{ P *byte }

func (ptrKey) Hash() uint64 { return 0 }

type uintptrKey struct{ U uintptr }

func (uintptrKey) Hash() uint64 { return 0 }

func TestRejectsPointers(t *testing.T) {
	if _, err := New[Key4, withPointer](Config{Capacity: 8}); !errors.Is(err, ErrPointers) {
		t.Errorf("pointer value: err %v", err)
	}
	if _, err := New[Key4, withString](Config{Capacity: 8}); !errors.Is(err, ErrPointers) {
		t.Errorf("string value: err %v", err)
	}
	if _, err := New[Key6, map[int]int](Config{Capacity: 8}); !errors.Is(err, ErrPointers) {
		t.Errorf("map value: err %v", err)
	}
	if _, err := New[ptrKey, struct{}](Config{Capacity: 8}); !errors.Is(err, ErrPointers) {
		t.Errorf("pointer key: err %v", err)
	}
	if _, err := New[uintptrKey, [0]*int](Config{Capacity: 8}); err != nil {
		t.Errorf("pointer-free types rejected: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	if _, err := New[Key4, tcpState](Config{}); err == nil {
		t.Error("capacity 0 without memory accepted")
	}
	if _, err := New[Key4, tcpState](Config{Capacity: 1000, Mem: make([]byte, 1000)}); err == nil {
		t.Error("too small arena accepted")
	}
	mem := make([]byte, 1<<20)
	tb, err := New[Key4, tcpState](Config{Mem: mem})
	if err != nil {
		t.Fatal(err)
	}
	if tb.MemoryBytes() > int64(len(mem)) || tb.Cap() < (1<<20)/80 {
		t.Errorf("capacity from memory: %v", tb)
	}
	tb2, err := NewFromBudget[Key4, tcpState](1<<20, nil)
	if err != nil || tb2.Cap() != CapacityFor[Key4, tcpState](1<<20) {
		t.Errorf("NewFromBudget: %v %v", tb2, err)
	}
}

func TestZeroAllocs(t *testing.T) {
	const n = 4096
	tb := newTable(t, n)
	keys := make([]Key4, n)
	for i := range keys {
		keys[i] = key(i)
	}
	i := 0
	if a := testing.AllocsPerRun(1000, func() {
		k := keys[i%n]
		i++
		h := k.Hash()
		if r := tb.Lookup(k, h); r != 0 {
			tb.Delete(r)
		} else {
			r, _ = tb.Insert(k, h, 0)
			tb.Entry(r).Expires = uint32(i)
		}
	}); a != 0 {
		t.Errorf("Insert/Lookup/Delete: %v allocs/op", a)
	}
	var cb func(Ref, *Entry[Key4, tcpState])
	count := 0
	cb = func(Ref, *Entry[Key4, tcpState]) { count++ }
	now := uint32(0)
	if a := testing.AllocsPerRun(100, func() {
		now += 10
		tb.Sweep(now, 64, cb)
	}); a != 0 {
		t.Errorf("Sweep: %v allocs/op", a)
	}
	var hashes [64]uint64
	var refs [64]Ref
	for j := range hashes {
		hashes[j] = keys[j].Hash()
	}
	if a := testing.AllocsPerRun(100, func() {
		for j := range 32 {
			tb.Prefetch(hashes[j])
		}
		tb.LookupBurst(keys[:64], hashes[:], refs[:], true)
		tb.LookupBurst(keys[:64], hashes[:], refs[:], false)
	}); a != 0 {
		t.Errorf("Prefetch/LookupBurst: %v allocs/op", a)
	}
}

func TestInArena(t *testing.T) {
	size := Size[Key4, tcpState](10000)
	mem, huge, err := arena.Alloc(size)
	if err != nil {
		t.Fatal(err)
	}
	defer arena.Free(mem)
	tb, err := New[Key4, tcpState](Config{Mem: mem})
	if err != nil {
		t.Fatal(err)
	}
	if tb.Cap() < 10000 {
		t.Fatalf("capacity %d from %d bytes", tb.Cap(), size)
	}
	t.Logf("%v huge=%v", tb, huge)
	for i := range 10000 {
		k := key(i)
		if r, _ := tb.Insert(k, k.Hash(), 0); r == 0 {
			t.Fatal("insert failed")
		}
	}
	checkInvariants(t, tb)
}

func TestLookupBurst(t *testing.T) {
	const n = 3000
	tb := newTable(t, n)
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range n {
		if i%3 != 0 { // a third of the keys stay absent
			k := key(i)
			tb.Insert(k, k.Hash(), 0)
		}
	}
	for _, size := range []int{0, 1, 32, 64, 65, 200} {
		keys := make([]Key4, size)
		hashes := make([]uint64, size)
		for _, prefetch := range []bool{false, true} {
			refs := make([]Ref, size)
			for i := range keys {
				keys[i] = key(rng.IntN(n + 100))
				hashes[i] = keys[i].Hash()
				refs[i] = 12345 // overwritten
			}
			tb.LookupBurst(keys, hashes, refs, prefetch)
			for i := range keys {
				if want := tb.Lookup(keys[i], hashes[i]); refs[i] != want {
					t.Fatalf("size %d prefetch %v: refs[%d] = %d, want %d", size, prefetch, i, refs[i], want)
				}
				tb.PrefetchEntryFor(hashes[i])
			}
		}
	}
}

func TestReset(t *testing.T) {
	tb := newTable(t, 100)
	for i := range 100 {
		k := key(i)
		tb.Insert(k, k.Hash(), 0)
	}
	tb.Reset()
	if tb.Len() != 0 || tb.Lookup(key(5), key(5).Hash()) != 0 {
		t.Fatal("entries survive Reset")
	}
	tb.Range(func(Ref, *Entry[Key4, tcpState]) bool { t.Fatal("Range after Reset"); return false })
	for i := range 100 {
		k := key(i + 1000)
		if r, ev := tb.Insert(k, k.Hash(), 0); r == 0 || ev {
			t.Fatal("insert after Reset failed")
		}
	}
	checkInvariants(t, tb)
}

func TestRangeStopsAndDeletes(t *testing.T) {
	tb := newTable(t, 100)
	for i := range 100 {
		k := key(i)
		tb.Insert(k, k.Hash(), 0)
	}
	seen := 0
	tb.Range(func(r Ref, e *Entry[Key4, tcpState]) bool { seen++; return seen < 10 })
	if seen != 10 {
		t.Fatalf("Range visited %d after stop at 10", seen)
	}
	tb.Range(func(r Ref, e *Entry[Key4, tcpState]) bool {
		if r%2 == 0 {
			tb.Delete(r)
		}
		return true
	})
	if tb.Len() != 50 {
		t.Fatalf("Len %d after deleting in Range", tb.Len())
	}
	// Deleting other entries: the deleted ones are not visited.
	visited := 0
	tb.Range(func(r Ref, e *Entry[Key4, tcpState]) bool {
		visited++
		if r%4 == 1 {
			tb.Delete(r + 2)
		}
		return true
	})
	if visited != 25 || tb.Len() != 25 {
		t.Fatalf("visited %d, Len %d; want 25, 25", visited, tb.Len())
	}
	checkInvariants(t, tb)
}

// smallHashKey's hash is its value: consecutive keys all share the high bits
// that pick a bucket (as keys crafted against the public hash would).
type smallHashKey struct{ V uint64 }

func (k smallHashKey) Hash() uint64 { return k.V }

func TestSeedSpreadsCraftedCollisions(t *testing.T) {
	const n = 5000
	tb, err := New[smallHashKey, tcpState](Config{Capacity: n})
	if err != nil {
		t.Fatal(err)
	}
	for i := range uint64(n) {
		k := smallHashKey{i}
		if r, ev := tb.Insert(k, k.Hash(), 0); r == 0 || ev {
			t.Fatalf("insert %d: %d %v (max probe %d)", i, r, ev, tb.Stats().MaxProbe)
		}
	}
	if p := tb.Stats().MaxProbe; p > 4 {
		t.Errorf("max probe %d", p)
	}
}

func (bk *bucket) tag(i int) uint16 { return uint16(bk.meta[i>>2] >> (16 * uint(i&3))) }

// TestBucketMatch checks the SWAR tag match (match, ReadBucket) against a
// plain loop.
func TestBucketMatch(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	var entries [SlotsPerBucket]byte
	for range 100000 {
		var bk bucket
		for i := range bk.refs {
			bk.refs[i] = uint32(i) + 1 // slot i names entry i+1
		}
		ix := index{buckets: unsafe.Pointer(&bk), entries: unsafe.Pointer(&entries), stride: 1}
		tags := make([]uint16, SlotsPerBucket)
		for i := range tags {
			switch rng.IntN(4) {
			case 0: // empty
			case 1:
				tags[i] = 0x8000 | uint16(rng.IntN(2))
			case 2:
				tags[i] = uint16(rng.IntN(3))
			default:
				tags[i] = uint16(rng.Uint32())
			}
			bk.setTag(i, tags[i])
		}
		bk.meta[2] += overflow * uint64(rng.IntN(100))
		bk.meta[2] |= uint64(rng.IntN(2)) << 48 // the unused lane must not match
		probe := tags[rng.IntN(len(tags))]
		if rng.IntN(4) == 0 {
			probe = uint16(rng.Uint32())
		}
		for _, q := range []uint16{probe, 0} {
			var want uint32
			for i, tg := range tags {
				if tg == q {
					want |= 1 << i
				}
			}
			if got := bk.match(q); got != want {
				t.Fatalf("tags %x: match(%x) = %b, want %b", tags, q, got, want)
			}
			if q == 0 {
				continue // a hint's tag is never 0
			}
			// ReadBucket's candidate: the lowest slot with the tag.
			var wantCand Ref
			if want != 0 {
				wantCand = Ref(bits.TrailingZeros32(want)) + 1
			}
			h := Hint{bucket: 0, tag: q}
			addr := ix.ReadBucket(&h)
			if h.cand != wantCand || (addr != 0) != (wantCand != 0) {
				t.Fatalf("tags %x: ReadBucket(%x) found slot %d (%#x), want %d", tags, q, int(h.cand)-1, addr, int(wantCand)-1)
			}
		}
		for i, tg := range tags {
			if bk.tag(i) != tg {
				t.Fatalf("tag(%d) = %x, want %x", i, bk.tag(i), tg)
			}
		}
	}
}

// TestLookupHintAfterDelete checks that a hint whose candidate entry was
// deleted (and perhaps reused) after ReadBucket finds the key's current
// entry or none, never the freed one: a freed entry's key ends in
// deadKeyTail, which no key does.
func TestLookupHintAfterDelete(t *testing.T) {
	tb := newTable(t, 64)
	// A is 0, what Delete writes over a freed entry's first word (the
	// free list's end): without deadKeyTail the freed key would still
	// equal k.
	k := NewKey4(0, 192<<24|2<<8|1, 1024, 443, packet.ProtoTCP, 0)
	r, _ := tb.Insert(k, k.Hash(), 1000)
	var h Hint
	tb.Begin(k.Hash(), &h)
	if tb.ReadBucket(&h) == 0 {
		t.Fatal("ReadBucket found no candidate for an inserted key")
	}
	tb.Delete(r)
	if got := tb.LookupHint(k, &h); got != 0 {
		t.Fatalf("LookupHint after Delete: %d, want 0", got)
	}
	// The freed entry is reused for another key, then k comes back.
	k2 := key(2)
	if r2, _ := tb.Insert(k2, k2.Hash(), 1000); r2 != r {
		t.Fatalf("the free entry %d was not reused (got %d)", r, r2)
	}
	if got := tb.LookupHint(k, &h); got != 0 {
		t.Fatalf("LookupHint with the entry reused: %d, want 0", got)
	}
	r3, _ := tb.Insert(k, k.Hash(), 1000)
	if got := tb.LookupHint(k, &h); got != r3 {
		t.Fatalf("LookupHint after reinsertion: %d, want %d", got, r3)
	}
}

// TestKeysNeverEndDead checks the layout deadKeyTail relies on: Key4 and
// Key6 end with Meta, whose top byte is zero for every protocol and zone.
func TestKeysNeverEndDead(t *testing.T) {
	if off := unsafe.Offsetof(Key4{}.Meta); off != unsafe.Sizeof(Key4{})-4 {
		t.Errorf("Key4.Meta at %d: not the last four bytes", off)
	}
	if off := unsafe.Offsetof(Key6{}.Meta); off != unsafe.Sizeof(Key6{})-4 {
		t.Errorf("Key6.Meta at %d: not the last four bytes", off)
	}
	if m := NewKey4(0, 0, 0, 0, 0xff, 0xffff).Meta; m == deadKeyTail {
		t.Errorf("the largest Meta is deadKeyTail")
	}
}
