package flowtable

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"reflect"
	"unsafe"
)

// Entry flags the table itself reads; the tracker maintains them.
const (
	FlagOrigIsB uint8 = 1 << iota // the original direction's source is the key's B endpoint
	FlagAssured                   // protected from early drop
	FlagClosing                   // a closing TCP state: an early-drop candidate even if assured
)

// Entry is one connection. Value is the tracker's state; it must be pointer-free.
type Entry[K comparable, V any] struct {
	Key     K
	Expires uint32 // worker clock (milliseconds, wrapping) at which the entry expires; see Expired
	Flags   uint8  // FlagOrigIsB, FlagAssured, FlagClosing, and tracker-private high bits
	Value   V
}

// Ref names an entry: its 1-based index. 0 is "none". A Ref and the entry's
// pointer stay valid (the entry never moves) until Delete.
type Ref uint32

// Expired reports whether a deadline has passed on the wrapping millisecond
// clock: int32(expires-now) <= 0. Deadlines must lie less than 2^31 ms
// (24.8 days) from now.
func Expired(expires, now uint32) bool { return int32(expires-now) <= 0 }

// Hashable is the constraint on keys: comparable, pointer-free, with a
// hash. The last four bytes of a key never hold deadKeyTail (Key4 and Key6
// end with Meta, whose protocol byte leaves the top byte zero): a freed
// entry's key ends with it, so that it equals no key.
type Hashable interface {
	comparable
	Hash() uint64
}

// deadKeyTail ends the key of a freed entry (see Hashable).
const deadKeyTail = 0xffffffff

// Geometry of the index.
const (
	// SlotsPerBucket is the number of (tag, ref) slots in one 64-byte bucket.
	SlotsPerBucket = 10
	// KeysPerBucket is the number of keys per bucket the index is sized for
	// at full capacity: the load factor is KeysPerBucket/SlotsPerBucket.
	KeysPerBucket = 5
	// MaxProbe bounds the buckets a key may be placed in (and a lookup reads):
	// its home bucket and the MaxProbe-1 after it.
	MaxProbe = 8
	// EvictionScan is the number of entries an early drop examines.
	EvictionScan = 16
	// MaxCapacity is the largest capacity (refs are 32-bit, 0 is none;
	// on 32-bit platforms memory is the tighter limit).
	MaxCapacity = min(1<<32-2, math.MaxInt)
)

// LoadFactor is the index load the table sustains at full capacity.
const LoadFactor = float64(KeysPerBucket) / SlotsPerBucket

// bucket is one cache line of the index. meta packs twelve 16-bit lanes,
// four per word, lowest lane first: lanes 0-9 are the slots' tags (0 marks
// an empty slot), lane 10 the overflow count (keys whose home is at or
// before this bucket that were placed after it), lane 11 is unused. Packing
// by shifts rather than a [10]uint16 lets a lookup compare all ten tags with
// three word operations (SWAR), on any byte order.
type bucket struct {
	meta [3]uint64
	refs [SlotsPerBucket]uint32
}

const (
	lanes16  = 0x0001_0001_0001_0001
	low15    = 0x7fff_7fff_7fff_7fff
	high1    = 0x8000_8000_8000_8000
	overflow = 1 << 32 // one in meta[2]'s lane 10
)

// zeroLanes sets the high bit of every 16-bit lane of x that is zero (exact:
// no false positives).
func zeroLanes(x uint64) uint64 {
	return ^((x&low15 + low15) | x) & high1
}

// compress gathers the high bits of four lanes (bits 15, 31, 47, 63) into
// bits 0-3 (a multiply places each at 45+k without carries).
func compress(m uint64) uint32 {
	return uint32(((m >> 15) * (1<<45 | 1<<30 | 1<<15 | 1)) >> 45 & 0xf)
}

// match returns the slots whose tag is tag, as a bitmask (bit i = slot i).
// match(0) gives the empty slots.
func (bk *bucket) match(tag uint16) uint32 {
	b := uint64(tag) * lanes16
	return compress(zeroLanes(bk.meta[0]^b)) |
		compress(zeroLanes(bk.meta[1]^b))<<4 |
		compress(zeroLanes(bk.meta[2]^b)&0x8000_8000)<<8
}

// slotLanes are the high bits of each word's slot lanes (lanes 0-9, not
// lane 10's overflow count or the unused lane 11).
var slotLanes = [3]uint64{high1, high1, 0x8000_8000}

func (bk *bucket) setTag(i int, tag uint16) {
	sh := 16 * uint(i&3)
	w := &bk.meta[i>>2]
	*w = *w&^(0xffff<<sh) | uint64(tag)<<sh
}

func (bk *bucket) overflow() uint64 { return bk.meta[2] >> 32 & 0xffff }

const bucketSize = 64

// Compile-time check that a bucket is one cache line.
var _ [bucketSize - unsafe.Sizeof(bucket{})]struct{}
var _ [unsafe.Sizeof(bucket{}) - bucketSize]struct{}

// Config sizes a table.
type Config struct {
	// Capacity is the number of entries. 0 means as many as fit in Mem.
	Capacity int
	// Seed is mixed into the hash before it picks a bucket, so that bucket
	// collisions cannot be precomputed from the public key hash. 0 picks a
	// random seed; tests may fix one.
	Seed uint64
	// Mem is an optional arena (e.g. from arena.Alloc) that must hold
	// Size(Capacity) bytes plus up to 63 for alignment; nil allocates from
	// the Go heap (pointer-free memory, never scanned by the collector).
	Mem []byte
}

// Stats are the table's counters since New.
type Stats struct {
	Inserts        uint64 // successful inserts (including those that evicted)
	Deletes        uint64 // explicit deletes (Delete), not counting expiries and evictions
	Evictions      uint64 // early drops made by Insert
	Expiries       uint64 // entries deleted by Sweep
	InsertFailures uint64 // inserts refused: full and nothing could be evicted
	MaxProbe       int    // the longest probe (in buckets) of any insert so far, 1 = home bucket
}

// Table is one core's connection table. See the package comment for the
// layout; all methods must be called from the owning goroutine.
type Table[K Hashable, V any] struct {
	index
	live     []uint64 // one bit per entry
	nb       uint64
	seed     uint64
	capacity uint32
	hwm      uint32 // entries [0,hwm) have been handed out at least once
	free     Ref    // head of the free list (threaded through free entries)
	n        int
	sweepPos uint32
	mem      []byte // the memory, kept reachable when Go-allocated
	size     int64  // bytes of mem the layout uses
	stats    Stats
	// Sweep's scratch: the expired entries of one live word (a local
	// array would be cleared on every call).
	sweepRefs   [64]Ref
	sweepHashes [64]uint64
}

// index is where a table's buckets and entries lie, the part of it that
// depends on neither its key nor its value type. Its methods are not
// generic: a generic method is called through a wrapper for its type
// arguments, which costs the inliner's budget as much as the method, and
// ReadBucket, on the pipeline's path for every packet, fits the budget
// only without it.
type index struct {
	buckets unsafe.Pointer // nb buckets
	entries unsafe.Pointer // capacity entries of stride bytes
	stride  uintptr
}

// layout computes a table's geometry for a capacity.
type layout struct {
	nb                  uint64
	stride              uintptr
	entriesOff, liveOff int64
	size                int64
	capacity            int
}

func entryStride[K Hashable, V any]() uintptr {
	var e Entry[K, V]
	size, align := unsafe.Sizeof(e), unsafe.Alignof(e)
	if size <= 64 {
		// Keep each entry within one cache line: round up to a power of two.
		s := uintptr(1)
		for s < size || s < align {
			s <<= 1
		}
		return s
	}
	return (size + align - 1) &^ (align - 1)
}

func round64(n int64) int64 { return (n + 63) &^ 63 }

func makeLayout[K Hashable, V any](capacity int) layout {
	l := layout{capacity: capacity, stride: entryStride[K, V]()}
	l.nb = uint64((capacity + KeysPerBucket - 1) / KeysPerBucket)
	if l.nb == 0 {
		l.nb = 1
	}
	l.entriesOff = round64(int64(l.nb) * bucketSize)
	l.liveOff = l.entriesOff + round64(int64(capacity)*int64(l.stride))
	l.size = l.liveOff + round64(int64((capacity+63)/64)*8)
	return l
}

// Size returns the bytes a table of this capacity needs (add 63 for alignment
// when the memory is not 64-byte aligned; mmap memory is).
func Size[K Hashable, V any](capacity int) int64 {
	return makeLayout[K, V](capacity).size
}

// CapacityFor returns the largest capacity whose table fits in budget bytes
// (assuming 64-byte aligned memory).
func CapacityFor[K Hashable, V any](budget int64) int {
	lo, hi := 0, int(MaxCapacity)
	if per := int64(entryStride[K, V]()); budget/per < int64(hi) {
		hi = int(max(budget/per, 0))
	}
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		if Size[K, V](mid) <= budget {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

// ErrPointers is returned by New when the key or value type holds pointers,
// which must never live in the arena (the collector does not scan it).
var ErrPointers = errors.New("flowtable: key and value types must be pointer-free")

// New builds a table. It fails if K or V holds pointers, the capacity is out
// of range, or Mem is too small.
func New[K Hashable, V any](cfg Config) (*Table[K, V], error) {
	var e Entry[K, V]
	if t := reflect.TypeOf(e); hasPointers(t) {
		return nil, fmt.Errorf("%w: %v", ErrPointers, t)
	}
	capacity := cfg.Capacity
	if capacity == 0 && cfg.Mem != nil {
		capacity = CapacityFor[K, V](int64(len(cfg.Mem)) - alignSlack(cfg.Mem))
	}
	if capacity <= 0 || capacity > MaxCapacity {
		return nil, fmt.Errorf("flowtable: capacity %d out of range 1..%d", capacity, MaxCapacity)
	}
	l := makeLayout[K, V](capacity)
	mem := cfg.Mem
	if mem == nil {
		mem = make([]byte, l.size+63)
	}
	slack := alignSlack(mem)
	if int64(len(mem))-slack < l.size {
		return nil, fmt.Errorf("flowtable: arena of %d bytes is too small for %d entries (need %d)",
			len(mem), capacity, l.size+slack)
	}
	mem = mem[slack : slack+l.size]
	clear(mem[:l.entriesOff])    // index
	clear(mem[l.liveOff:l.size]) // live bits
	seed := cfg.Seed
	for seed == 0 {
		seed = rand.Uint64()
	}
	base := unsafe.Pointer(unsafe.SliceData(mem))
	t := &Table[K, V]{
		index:    index{buckets: base, entries: unsafe.Add(base, l.entriesOff), stride: l.stride},
		live:     unsafe.Slice((*uint64)(unsafe.Add(base, l.liveOff)), (capacity+63)/64),
		nb:       l.nb,
		seed:     seed,
		capacity: uint32(capacity),
		mem:      mem,
		size:     l.size,
	}
	return t, nil
}

// NewFromBudget builds a table holding as many entries as fit in budget
// bytes, in mem (which must hold budget bytes) or on the Go heap when mem is nil.
func NewFromBudget[K Hashable, V any](budget int64, mem []byte) (*Table[K, V], error) {
	if mem != nil {
		budget = min(budget, int64(len(mem))-alignSlack(mem))
	}
	return New[K, V](Config{Capacity: CapacityFor[K, V](budget), Mem: mem})
}

func alignSlack(mem []byte) int64 {
	if len(mem) == 0 {
		return 0
	}
	p := uintptr(unsafe.Pointer(unsafe.SliceData(mem)))
	return int64((64 - p%64) % 64)
}

// hasPointers reports whether values of t hold anything the collector traces.
func hasPointers(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Array:
		return t.Len() > 0 && hasPointers(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if hasPointers(t.Field(i).Type) {
				return true
			}
		}
		return false
	case reflect.Pointer, reflect.UnsafePointer, reflect.Map, reflect.Slice, reflect.String,
		reflect.Chan, reflect.Func, reflect.Interface:
		return true
	default:
		return false
	}
}

// BytesPerEntry returns the arena bytes per entry, index and live bits
// included, rounded up.
func (t *Table[K, V]) BytesPerEntry() int {
	return int((t.size + int64(t.capacity) - 1) / int64(t.capacity))
}

// MemoryBytes returns the arena bytes the table uses.
func (t *Table[K, V]) MemoryBytes() int64 { return t.size }

// String describes the table's sizing: flows=… bytes_per_flow=… memory=….
func (t *Table[K, V]) String() string {
	return fmt.Sprintf("flows=%d bytes_per_flow=%d memory=%.1fMiB", t.capacity, t.BytesPerEntry(),
		float64(t.size)/(1<<20))
}

// Len returns the number of live entries.
func (t *Table[K, V]) Len() int { return t.n }

// Cap returns the capacity.
func (t *Table[K, V]) Cap() int { return int(t.capacity) }

// Stats returns the table's counters.
func (t *Table[K, V]) Stats() Stats { return t.stats }

// home returns the home bucket and the tag of a hash. The bucket uses the
// high bits (fastrange), the tag the low 16 bits (never 0: 0 marks empty).
func (t *Table[K, V]) home(hash uint64) (uint64, uint16) {
	// Remix with the table's secret seed: keys crafted to collide in the
	// (public, unseeded) key hash's high bits land in different buckets
	// here; only full 64-bit collisions still collide.
	hash = mix(hash^t.seed, hashP3)
	b, _ := bits.Mul64(hash, t.nb)
	tag := uint16(hash)
	if tag == 0 {
		tag = 1
	}
	return b, tag
}

func (t *Table[K, V]) bucket(i uint64) *bucket {
	return (*bucket)(unsafe.Add(t.buckets, uintptr(i)*bucketSize))
}

func (t *Table[K, V]) entry(r Ref) *Entry[K, V] {
	return (*Entry[K, V])(unsafe.Add(t.entries, uintptr(r-1)*t.stride))
}

// Prefetch starts loading the home bucket of hash into the cache. Call it for
// a whole burst before the burst's first Lookup. It costs a few ns per call,
// which is worth it only when the table is larger than the caches (see
// PrefetchUseful).
func (t *Table[K, V]) Prefetch(hash uint64) {
	b, _ := t.home(hash)
	prefetch(uintptr(t.buckets) + uintptr(b)*bucketSize)
}

// PrefetchEntry starts loading entry r's cache line (r must not be 0).
func (t *Table[K, V]) PrefetchEntry(r Ref) {
	prefetch(uintptr(t.entries) + uintptr(r-1)*t.stride)
}

// PrefetchEntryFor starts loading the entry a Lookup of hash will most
// likely compare: that of the first slot in the home bucket whose tag
// matches. It reads the bucket, so call it after Prefetch has had time to
// bring the bucket in (a second pass over the burst).
func (t *Table[K, V]) PrefetchEntryFor(hash uint64) {
	b, tag := t.home(hash)
	bk := t.bucket(b)
	if m := bk.match(tag); m != 0 {
		t.PrefetchEntry(Ref(bk.refs[bits.TrailingZeros32(m)]))
	}
}

// Reset deletes every entry at once (e.g. a flush), without callbacks; refs
// and entry pointers all become invalid. Stats are kept.
func (t *Table[K, V]) Reset() {
	clear(unsafe.Slice((*byte)(t.buckets), uintptr(t.nb)*bucketSize))
	clear(t.live)
	t.hwm, t.free, t.n, t.sweepPos = 0, 0, 0, 0
}

// PrefetchUseful reports whether the table's working set (live entries plus
// their buckets) is larger than a core's L1 data cache, i.e. whether burst
// prefetching pays for its cost. In a lookup loop alone a table up to the
// L2 size (1 MiB here) stays there and prefetching is about neutral
// (BenchmarkLookupUpdate: at 10k flows), but behind a NIC the packet
// buffers stream through L2 and evict the table: statewalld forwards 9%
// more at 10k flows (a 900 KiB working set) with prefetching than
// without. At 100k flows prefetching doubles the rate, at 1M it is worth
// 2.5-3x. Evaluate it once per burst.
func (t *Table[K, V]) PrefetchUseful() bool {
	if !hasPrefetch {
		return false
	}
	touched := int64(t.n)*int64(t.stride) + int64(min(uint64(t.n), t.nb))*bucketSize
	return touched > prefetchThreshold
}

// prefetchThreshold is the working set above which PrefetchUseful is true.
const prefetchThreshold = 64 << 10

// Lookup returns the entry of key k with the given hash (k.Hash()), or 0.
// It does not check expiry.
func (t *Table[K, V]) Lookup(k K, hash uint64) Ref {
	b, tag := t.home(hash)
	return t.lookupFrom(k, b, tag)
}

// Hint is a Lookup begun ahead of time, for a burst whose cache misses
// should overlap: Begin computes the home bucket (prefetch BucketAddr),
// ReadBucket later finds the entry the bucket's first matching tag names
// (prefetch the address it returns), and LookupHint finishes it.
type Hint struct {
	bucket uint64
	tag    uint16
	cand   Ref
}

// Begin starts the lookup of a key whose hash is hash.
func (t *Table[K, V]) Begin(hash uint64, h *Hint) {
	h.bucket, h.tag = t.home(hash)
	h.cand = 0
}

// BucketAddr is the address of h's home bucket.
func (t *Table[K, V]) BucketAddr(h *Hint) uintptr {
	return uintptr(t.buckets) + uintptr(h.bucket)*bucketSize
}

// ReadBucket reads h's home bucket and returns the address of the entry
// its lowest slot with h's tag names, or 0. It reads the bucket word by
// word, so that the common lookup (its key in one of the first four
// slots) reads one, and finds a word's lowest zero lane as
// (x - 1s) &^ x does: exact for the lowest one, which is all it takes
// (match needs every one, and zeroLanes). It is small enough for the
// compiler to inline anywhere (the pipeline calls it for every packet).
func (ix *index) ReadBucket(h *Hint) uintptr {
	// Table.bucket written out: index cannot call the generic method, and
	// a method of its own put ReadBucket over the budget (81).
	bk := (*bucket)(unsafe.Add(ix.buckets, uintptr(h.bucket)*bucketSize))
	for w, lanes := range slotLanes {
		x := bk.meta[w] ^ uint64(h.tag)*lanes16
		if m := (x - lanes16) &^ x & lanes; m != 0 {
			h.cand = Ref(bk.refs[w<<2|bits.TrailingZeros64(m)>>4])
			return uintptr(ix.entries) + uintptr(h.cand-1)*ix.stride
		}
	}
	return 0
}

// LookupHint is Lookup for a key whose lookup h began (the table may have
// changed since: the candidate is checked).
func (t *Table[K, V]) LookupHint(k K, h *Hint) Ref {
	if r, e := t.CandidateEntry(k, h); e != nil {
		return r
	}
	return t.lookupFrom(k, h.bucket, h.tag)
}

// FindHint is LookupHint returning the entry as well (nil when the key
// is absent), for a caller that reads it at once.
func (t *Table[K, V]) FindHint(k K, h *Hint) (Ref, *Entry[K, V]) {
	if r, e := t.CandidateEntry(k, h); e != nil {
		return r, e
	}
	if r := t.lookupFrom(k, h.bucket, h.tag); r != 0 {
		return r, t.entry(r)
	}
	return 0, nil
}

// CandidateEntry is the entry ReadBucket found for h when its key is k,
// nil otherwise (k may be in the table still: FindHint looks it up). It
// calls nothing.
func (t *Table[K, V]) CandidateEntry(k K, h *Hint) (Ref, *Entry[K, V]) {
	// A free entry's key ends in deadKeyTail: it equals no key, so the
	// candidate needs no look at the live bitmap (a cache line more).
	if r := h.cand; r != 0 && uint32(r-1) < t.capacity {
		if e := t.entry(r); e.Key == k {
			return r, e
		}
	}
	return 0, nil
}

// Candidate is the entry ReadBucket found for h (0: none, or no longer a
// slot of the table), for a caller that checks its key itself before
// LookupHint (a key whose == is a call: Key6.Equal).
func (t *Table[K, V]) Candidate(h *Hint) Ref {
	if r := h.cand; r != 0 && uint32(r-1) < t.capacity {
		return r
	}
	return 0
}

// lookupFrom is Lookup from the key's home bucket b and tag.
func (t *Table[K, V]) lookupFrom(k K, b uint64, tag uint16) Ref {
	for range MaxProbe {
		bk := t.bucket(b)
		for m := bk.match(tag); m != 0; m &= m - 1 {
			if r := Ref(bk.refs[bits.TrailingZeros32(m)]); t.entry(r).Key == k {
				return r
			}
		}
		if bk.overflow() == 0 {
			return 0
		}
		if b++; b == t.nb {
			b = 0
		}
	}
	return 0
}

// LookupBurst looks up a burst of keys: refs[i] = Lookup(keys[i], hashes[i])
// for every i < len(keys); hashes and refs must be at least as long as keys.
// With prefetch, it works in three passes so that the burst's cache misses
// overlap: prefetch every key's home bucket; read each bucket and prefetch
// the entry its first matching tag names; then compare the keys (a mismatch
// or a key placed past its home bucket falls back to Lookup). Without
// prefetch it is a plain loop of Lookup, faster when the table fits in the
// caches: pass PrefetchUseful() (once per burst) to choose adaptively.
// refs reflect the table as it was: when several packets of one new flow
// share a burst, look a miss up again before inserting it.
func (t *Table[K, V]) LookupBurst(keys []K, hashes []uint64, refs []Ref, prefetch bool) {
	hashes = hashes[:len(keys)]
	refs = refs[:len(keys)]
	if !prefetch {
		for i := range keys {
			refs[i] = t.Lookup(keys[i], hashes[i])
		}
		return
	}
	for len(keys) > 0 {
		n := min(len(keys), burstChunk)
		t.lookupChunk(keys[:n], hashes[:n], refs[:n])
		keys, hashes, refs = keys[n:], hashes[n:], refs[n:]
	}
}

// burstChunk is the number of keys LookupBurst pipelines at once.
const burstChunk = 64

// absent marks a key known to be absent after the bucket pass (never a
// valid ref: refs are at most MaxCapacity).
const absent = Ref(1<<32 - 1)

func (t *Table[K, V]) lookupChunk(keys []K, hashes []uint64, refs []Ref) {
	var homes [burstChunk]uint64 // bucket<<16 | tag
	hashes = hashes[:len(keys)]
	refs = refs[:len(keys)]
	for i, h := range hashes {
		b, tag := t.home(h)
		homes[i] = b<<16 | uint64(tag)
		prefetch(uintptr(t.buckets) + uintptr(b)*bucketSize)
	}
	for i := range refs {
		bk := t.bucket(homes[i] >> 16)
		if m := bk.match(uint16(homes[i])); m != 0 {
			r := Ref(bk.refs[bits.TrailingZeros32(m)])
			refs[i] = r
			t.PrefetchEntry(r)
		} else if bk.overflow() == 0 {
			refs[i] = absent
		} else {
			refs[i] = 0
		}
	}
	for i := range keys {
		switch r := refs[i]; {
		case r == absent:
			refs[i] = 0
		case r == 0 || t.entry(r).Key != keys[i]:
			refs[i] = t.Lookup(keys[i], hashes[i])
		}
	}
}

// Entry returns the entry r names (nil for 0 or out of range). The pointer is
// valid until Delete(r).
func (t *Table[K, V]) Entry(r Ref) *Entry[K, V] {
	if uint32(r-1) >= t.capacity {
		return nil
	}
	return t.entry(r)
}

func (t *Table[K, V]) isLive(r Ref) bool {
	i := uint32(r - 1)
	return t.live[i/64]&(1<<(i%64)) != 0
}

// alloc takes an entry from the free list or the never-used tail.
func (t *Table[K, V]) alloc() Ref {
	if r := t.free; r != 0 {
		t.free = Ref(*(*uint32)(unsafe.Pointer(t.entry(r))))
		return r
	}
	if t.hwm < t.capacity {
		t.hwm++
		return Ref(t.hwm)
	}
	return 0
}

// findFree returns the first empty slot in the probe window of home.
func (t *Table[K, V]) findFree(home uint64) (b uint64, slot int, dist int, ok bool) {
	b = home
	for d := range MaxProbe {
		if m := t.bucket(b).match(0); m != 0 {
			return b, bits.TrailingZeros32(m), d, true
		}
		if b++; b == t.nb {
			b = 0
		}
	}
	return 0, 0, 0, false
}

// Insert adds key k (which must be absent) with the given hash and returns
// its zeroed entry's ref. When the table (or the key's probe window) is full
// it first drops early: the first of up to EvictionScan entries near the hash
// that is expired at now, not ASSURED, or CLOSING is deleted and its ref
// reused (evicted is true). It returns 0 when nothing could be evicted.
func (t *Table[K, V]) Insert(k K, hash uint64, now uint32) (r Ref, evicted bool) {
	return t.insert(k, hash, now, false)
}

// InsertEvicting is Insert for a table that shares a limit with others
// (a tracker's IPv4 and IPv6 tables share max_flows), now reached: it
// inserts k only in place of an entry it evicts near k's home bucket, as
// Insert does when the table itself is full.
func (t *Table[K, V]) InsertEvicting(k K, hash uint64, now uint32) (r Ref, evicted bool) {
	return t.insert(k, hash, now, true)
}

func (t *Table[K, V]) insert(k K, hash uint64, now uint32, full bool) (r Ref, evicted bool) {
	home, tag := t.home(hash)
	b, slot, dist, ok := t.findFree(home)
	if full || !ok || (t.free == 0 && t.hwm == t.capacity) {
		if !t.evictNear(home, now) {
			t.stats.InsertFailures++
			return 0, false
		}
		evicted = true
		b, slot, dist, _ = t.findFree(home) // the evicted slot was in the window
	}
	r = t.alloc()
	e := t.entry(r)
	*e = Entry[K, V]{Key: k}
	bk := t.bucket(b)
	bk.setTag(slot, tag)
	bk.refs[slot] = uint32(r)
	for p, i := home, 0; i < dist; i++ {
		t.bucket(p).meta[2] += overflow
		if p++; p == t.nb {
			p = 0
		}
	}
	if dist+1 > t.stats.MaxProbe {
		t.stats.MaxProbe = dist + 1
	}
	i := uint32(r - 1)
	t.live[i/64] |= 1 << (i % 64)
	t.n++
	t.stats.Inserts++
	return r, evicted
}

// evictNear deletes the first early-drop candidate among the first
// EvictionScan entries of the probe window of home.
func (t *Table[K, V]) evictNear(home uint64, now uint32) bool {
	b := home
	scanned := 0
	for range MaxProbe {
		bk := t.bucket(b)
		for m := ^bk.match(0) & (1<<SlotsPerBucket - 1); m != 0; m &= m - 1 {
			r := Ref(bk.refs[bits.TrailingZeros32(m)])
			e := t.entry(r)
			if e.Flags&FlagAssured == 0 || e.Flags&FlagClosing != 0 || Expired(e.Expires, now) {
				t.unlink(r, e)
				t.stats.Evictions++
				return true
			}
			if scanned++; scanned == EvictionScan {
				return false
			}
		}
		if b++; b == t.nb {
			b = 0
		}
	}
	return false
}

// Delete removes entry r. Deleting 0 or a free entry does nothing.
func (t *Table[K, V]) Delete(r Ref) {
	if uint32(r-1) >= t.capacity || !t.isLive(r) {
		return
	}
	t.unlink(r, t.entry(r))
	t.stats.Deletes++
}

// unlink removes live entry r from the index and frees it.
func (t *Table[K, V]) unlink(r Ref, e *Entry[K, V]) {
	t.unlinkHashed(r, e, e.Key.Hash())
}

// unlinkHashed is unlink given the entry key's hash.
func (t *Table[K, V]) unlinkHashed(r Ref, e *Entry[K, V], hash uint64) {
	home, tag := t.home(hash)
	b := home
	for d := range MaxProbe {
		bk := t.bucket(b)
		for m := bk.match(tag); m != 0; m &= m - 1 {
			if i := bits.TrailingZeros32(m); Ref(bk.refs[i]) == r {
				bk.setTag(i, 0)
				bk.refs[i] = 0
				for p, j := home, 0; j < d; j++ {
					t.bucket(p).meta[2] -= overflow
					if p++; p == t.nb {
						p = 0
					}
				}
				t.release(r, e)
				return
			}
		}
		if b++; b == t.nb {
			b = 0
		}
	}
	// Not indexed: cannot happen unless the key was changed in place.
	// Free the entry anyway so the capacity is not lost.
	t.release(r, e)
}

func (t *Table[K, V]) release(r Ref, e *Entry[K, V]) {
	i := uint32(r - 1)
	t.live[i/64] &^= 1 << (i % 64)
	*(*uint32)(unsafe.Add(unsafe.Pointer(&e.Key), unsafe.Sizeof(e.Key)-4)) = deadKeyTail
	*(*uint32)(unsafe.Pointer(e)) = uint32(t.free)
	t.free = r
	t.n--
}

// Sweep examines at most budget entry positions, continuing from where the
// last sweep stopped, and deletes the entries expired at now, calling
// onExpire (if not nil) on each first. onExpire must not insert or delete.
// It returns the number deleted.
func (t *Table[K, V]) Sweep(now uint32, budget int, onExpire func(r Ref, e *Entry[K, V])) int {
	if t.n == 0 || t.hwm == 0 {
		return 0
	}
	deleted := 0
	pos := t.sweepPos
	budget = min(budget, int(t.hwm))
	for budget > 0 {
		if pos >= t.hwm {
			pos = 0
		}
		w := t.live[pos/64] >> (pos % 64)
		span := min(64-pos%64, t.hwm-pos, uint32(budget))
		if span < 64 {
			w &= 1<<span - 1
		}
		// Collect this word's expired entries and prefetch their buckets,
		// then unlink them: the index misses overlap.
		refs, hashes := &t.sweepRefs, &t.sweepHashes
		n := 0
		for w != 0 {
			i := pos + uint32(bits.TrailingZeros64(w))
			w &= w - 1
			r := Ref(i + 1)
			e := t.entry(r)
			if Expired(e.Expires, now) {
				if onExpire != nil {
					onExpire(r, e)
				}
				h := e.Key.Hash()
				t.Prefetch(h)
				refs[n], hashes[n] = r, h
				n++
			}
		}
		for j := range n {
			if t.isLive(refs[j]) { // in case onExpire deleted it after all
				t.unlinkHashed(refs[j], t.entry(refs[j]), hashes[j])
				t.stats.Expiries++
				deleted++
			}
		}
		pos += span
		budget -= int(span)
	}
	t.sweepPos = pos
	return deleted
}

// Range calls fn for every live entry, in entry order, until fn returns
// false. fn may delete entries (deleted ones are not visited); entries it
// inserts may or may not be visited.
func (t *Table[K, V]) Range(fn func(r Ref, e *Entry[K, V]) bool) {
	for wi := range t.live {
		w := t.live[wi]
		for w != 0 {
			i := uint32(wi*64 + bits.TrailingZeros64(w))
			w &= w - 1
			if !t.isLive(Ref(i + 1)) {
				continue
			}
			if !fn(Ref(i+1), t.entry(Ref(i+1))) {
				return
			}
		}
	}
}
