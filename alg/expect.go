package alg

import (
	"encoding/binary"
	"math/rand/v2"
	"sync"
	"sync/atomic"

	"github.com/statewall/statewall/dataplane/packet"
)

// Expectation announces a connection a helper expects: the first packet
// from Src (any source port) to Dst:DstPort with protocol Proto is RELATED
// to the Master connection and consumes the expectation.
type Expectation struct {
	Family  packet.Family
	Proto   uint8
	Src     [16]byte // the peer that will connect, any source port
	Dst     [16]byte // the announced address
	DstPort uint16   // the announced port
	// Master is the control connection's tuple in its original direction.
	Master packet.Tuple
	// Helper names the helper that created the expectation ("ftp"); it
	// must be a constant string, never built per packet.
	Helper string
	// Expires is the coarse-clock time (milliseconds, wrapping) at which
	// the expectation lapses.
	Expires uint32
}

// Refusal names why a helper announced a connection but stored no
// expectation; it indexes ExpectStats.Refused.
type Refusal uint8

// Refusals, counted by the shared table.
const (
	RefusedBounce Refusal = iota // the announced address is not the sender's own (FTP bounce)
	RefusedFull                  // the expectation table was full: the command is dropped
	RefusedClash                 // another control connection expects the same connection: the command is dropped
	RefusedParse                 // the command was partial or unparsable: the segment is dropped
	numRefusals
)

// NumRefusals is the number of distinct refusals, for counter arrays.
const NumRefusals = int(numRefusals)

var refusalNames = [...]string{
	RefusedBounce: "bounce",
	RefusedFull:   "full",
	RefusedClash:  "clash",
	RefusedParse:  "parse",
}

// String returns the refusal's stable label value ("bounce", "full", ...).
func (r Refusal) String() string {
	if int(r) < len(refusalNames) {
		return refusalNames[r]
	}
	return "unknown"
}

// ExpectStats is a snapshot of the shared expectation table's counters.
type ExpectStats struct {
	Created  uint64 // expectations stored, re-armed ones included
	Rearmed  uint64 // stored ones replaced by the same announcement from the same master (a retransmission)
	Replaced uint64 // oldest ones evicted because their master reached its limit
	Matched  uint64 // consumed by a connection's first packet (RELATED)
	Expired  uint64 // lapsed before any connection matched them
	Removed  uint64 // removed with their dying master
	Refused  [NumRefusals]uint64
}

// expKey is what a first packet must carry to match an expectation.
type expKey struct {
	src, dst [16]byte
	dstPort  uint16
	proto    uint8
	family   packet.Family
}

// expSlot is one preallocated cell of the table.
type expSlot struct {
	e          Expectation
	key        expKey
	seq        uint64 // insertion order, to find a master's oldest
	keyNext    int32  // next slot in the key bucket, or in the free list when unused
	masterNext int32  // next slot in the master bucket
	used       bool
}

const noSlot = -1

// Expectations is the expectation table SHARED by all workers: a data
// connection's source port is unknown, so the core that will see it
// cannot be computed. It is small and preallocated; a mutex with short
// critical sections guards it, and an atomic count lets Match on an empty
// table cost one atomic load and no lock. Workers read it only on flow
// table misses. All methods are safe for concurrent use.
type Expectations struct {
	// n is the number of stored expectations, written under mu and read
	// without it by Match and Len.
	n atomic.Int32

	mu         sync.Mutex
	slots      []expSlot
	keyHead    []int32 // bucket -> first slot, by expKey
	masterHead []int32 // bucket -> first slot, by master tuple
	free       int32   // first free slot
	mask       uint32
	seed       uint64
	nextSeq    uint64

	// Shared counters: written by any worker, rarely (per announcement).
	created, rearmed, replaced, matched, expired, removed atomic.Uint64
	refused                                               [NumRefusals]atomic.Uint64
}

// NewExpectations returns an empty table holding at most capacity
// expectations (at least 1), with all its memory allocated up front.
func NewExpectations(capacity int) *Expectations {
	if capacity < 1 {
		capacity = 1
	}
	if capacity > 1<<24 {
		capacity = 1 << 24
	}
	buckets := 1
	for buckets < capacity {
		buckets <<= 1
	}
	x := &Expectations{
		slots:      make([]expSlot, capacity),
		keyHead:    make([]int32, buckets),
		masterHead: make([]int32, buckets),
		mask:       uint32(buckets - 1),
		seed:       rand.Uint64(),
	}
	for i := range x.keyHead {
		x.keyHead[i] = noSlot
		x.masterHead[i] = noSlot
	}
	for i := range x.slots {
		x.slots[i].keyNext = int32(i + 1)
	}
	x.slots[capacity-1].keyNext = noSlot
	return x
}

// Cap returns the table's capacity.
func (x *Expectations) Cap() int { return len(x.slots) }

// Len returns the number of stored expectations (expired ones not yet
// reaped included).
func (x *Expectations) Len() int { return int(x.n.Load()) }

// Add stores e, created at now. An expectation of the same master for the
// same connection is replaced (a retransmitted announcement re-arms it);
// when the master already holds maxPerMaster expectations (0: no limit)
// its oldest is evicted. It returns ReasonALGExpectFull, counted, when the
// table is full or another master expects the same connection (Linux
// refuses such a clash); the caller drops the announcing packet then.
// Add never allocates.
func (x *Expectations) Add(now uint32, e Expectation, maxPerMaster int) packet.DropReason {
	k := keyOf(&e)
	kb := x.hashKey(&k)
	mb := x.hashMaster(&e.Master)

	x.mu.Lock()
	defer x.mu.Unlock()

	if i := x.find(kb, &k); i != noSlot {
		switch s := &x.slots[i]; {
		case expired(now, s.e.Expires):
			x.unlink(i)
			x.expired.Add(1)
		case s.e.Master == e.Master:
			x.unlink(i)
			x.rearmed.Add(1)
		default:
			x.refused[RefusedClash].Add(1)
			return packet.ReasonALGExpectFull
		}
	}

	if maxPerMaster > 0 {
		for {
			count, oldest := x.masterCount(now, mb, &e.Master)
			if count < maxPerMaster {
				break
			}
			x.unlink(oldest)
			x.replaced.Add(1)
		}
	}

	if x.free == noSlot {
		x.reap(now)
		if x.free == noSlot {
			x.refused[RefusedFull].Add(1)
			return packet.ReasonALGExpectFull
		}
	}

	i := x.free
	s := &x.slots[i]
	x.free = s.keyNext
	x.nextSeq++
	*s = expSlot{
		e:          e,
		key:        k,
		seq:        x.nextSeq,
		keyNext:    x.keyHead[kb],
		masterNext: x.masterHead[mb],
		used:       true,
	}
	x.keyHead[kb] = i
	x.masterHead[mb] = i
	x.n.Add(1)
	x.created.Add(1)
	return packet.ReasonNone
}

// masterCount counts the live expectations of master in bucket mb,
// reaping expired ones on the way, and returns the oldest live one.
// Called with mu held.
func (x *Expectations) masterCount(now uint32, mb uint32, master *packet.Tuple) (count int, oldest int32) {
	oldest = noSlot
	for i := x.masterHead[mb]; i != noSlot; {
		s := &x.slots[i]
		next := s.masterNext
		if s.e.Master == *master {
			if expired(now, s.e.Expires) {
				x.unlink(i)
				x.expired.Add(1)
			} else {
				count++
				if oldest == noSlot || s.seq < x.slots[oldest].seq {
					oldest = i
				}
			}
		}
		i = next
	}
	return count, oldest
}

// Match reports whether t, the first packet of a connection unknown to
// the flow table, was expected, and consumes the expectation if so: the
// packet is RELATED. It implements the tracker's ExpectationMatcher.
func (x *Expectations) Match(now uint32, t *packet.Tuple) bool {
	return x.Take(now, t, nil)
}

// Take is Match that also copies the consumed expectation to out (when
// out is not nil), so the tracker can link the new entry to its master.
func (x *Expectations) Take(now uint32, t *packet.Tuple, out *Expectation) bool {
	if x.n.Load() == 0 {
		return false
	}
	k := expKey{src: t.Src, dst: t.Dst, dstPort: t.DstPort, proto: t.Proto, family: t.Family}
	kb := x.hashKey(&k)

	x.mu.Lock()
	defer x.mu.Unlock()
	i := x.find(kb, &k)
	if i == noSlot {
		return false
	}
	s := &x.slots[i]
	if expired(now, s.e.Expires) {
		x.unlink(i)
		x.expired.Add(1)
		return false
	}
	if out != nil {
		*out = s.e
	}
	x.unlink(i)
	x.matched.Add(1)
	return true
}

// find returns the slot holding key k, whose hash bucket is kb, or noSlot
// (keys are unique in the table). The caller holds mu.
func (x *Expectations) find(kb uint32, k *expKey) int32 {
	for i := x.keyHead[kb]; i != noSlot; i = x.slots[i].keyNext {
		if x.slots[i].key == *k {
			return i
		}
	}
	return noSlot
}

// Expire removes the expectations that lapsed by now and returns how many.
func (x *Expectations) Expire(now uint32) int {
	if x.n.Load() == 0 {
		return 0
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.reap(now)
}

// reap removes every expired expectation. Called with mu held.
func (x *Expectations) reap(now uint32) int {
	n := 0
	for i := range x.slots {
		if x.slots[i].used && expired(now, x.slots[i].e.Expires) {
			x.unlink(int32(i))
			n++
		}
	}
	x.expired.Add(uint64(n))
	return n
}

// RemoveMaster removes the expectations of a control connection that is
// going away.
func (x *Expectations) RemoveMaster(master packet.Tuple) {
	if x.n.Load() == 0 {
		return
	}
	mb := x.hashMaster(&master)
	x.mu.Lock()
	defer x.mu.Unlock()
	for i := x.masterHead[mb]; i != noSlot; {
		next := x.slots[i].masterNext
		if x.slots[i].e.Master == master {
			x.unlink(i)
			x.removed.Add(1)
		}
		i = next
	}
}

// Range calls fn with a copy of each stored expectation, for listing,
// until fn returns false. It snapshots the table first (allocating), so fn
// may call back into the table.
func (x *Expectations) Range(fn func(Expectation) bool) {
	x.mu.Lock()
	snap := make([]Expectation, 0, x.n.Load())
	for i := range x.slots {
		if x.slots[i].used {
			snap = append(snap, x.slots[i].e)
		}
	}
	x.mu.Unlock()
	for _, e := range snap {
		if !fn(e) {
			return
		}
	}
}

// Refuse counts one refusal; helpers call it for refusals the table does
// not see itself (bounce, parse).
func (x *Expectations) Refuse(r Refusal) {
	if int(r) < NumRefusals {
		x.refused[r].Add(1)
	}
}

// Stats returns a snapshot of the counters.
func (x *Expectations) Stats() ExpectStats {
	s := ExpectStats{
		Created:  x.created.Load(),
		Rearmed:  x.rearmed.Load(),
		Replaced: x.replaced.Load(),
		Matched:  x.matched.Load(),
		Expired:  x.expired.Load(),
		Removed:  x.removed.Load(),
	}
	for i := range s.Refused {
		s.Refused[i] = x.refused[i].Load()
	}
	return s
}

// unlink removes slot i from both bucket chains and frees it. Called with
// mu held.
func (x *Expectations) unlink(i int32) {
	s := &x.slots[i]
	kb := x.hashKey(&s.key)
	if x.keyHead[kb] == i {
		x.keyHead[kb] = s.keyNext
	} else {
		for p := x.keyHead[kb]; p != noSlot; p = x.slots[p].keyNext {
			if x.slots[p].keyNext == i {
				x.slots[p].keyNext = s.keyNext
				break
			}
		}
	}
	mb := x.hashMaster(&s.e.Master)
	if x.masterHead[mb] == i {
		x.masterHead[mb] = s.masterNext
	} else {
		for p := x.masterHead[mb]; p != noSlot; p = x.slots[p].masterNext {
			if x.slots[p].masterNext == i {
				x.slots[p].masterNext = s.masterNext
				break
			}
		}
	}
	*s = expSlot{keyNext: x.free, masterNext: noSlot}
	x.free = i
	x.n.Add(-1)
}

// expired reports whether an expectation lapsing at expires has lapsed
// at now, on the wrapping millisecond clock (valid for timeouts below
// 2^31 ms, about 24 days).
func expired(now, expires uint32) bool { return int32(now-expires) >= 0 }

func keyOf(e *Expectation) expKey {
	return expKey{src: e.Src, dst: e.Dst, dstPort: e.DstPort, proto: e.Proto, family: e.Family}
}

// mix64 is the splitmix64 finalizer.
func mix64(h uint64) uint64 {
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}

func (x *Expectations) hashAddrs(h uint64, a, b *[16]byte) uint64 {
	h = mix64(h ^ binary.LittleEndian.Uint64(a[0:8]))
	h = mix64(h ^ binary.LittleEndian.Uint64(a[8:16]))
	h = mix64(h ^ binary.LittleEndian.Uint64(b[0:8]))
	h = mix64(h ^ binary.LittleEndian.Uint64(b[8:16]))
	return h
}

func (x *Expectations) hashKey(k *expKey) uint32 {
	h := x.hashAddrs(x.seed, &k.src, &k.dst)
	h = mix64(h ^ (uint64(k.dstPort) | uint64(k.proto)<<16 | uint64(k.family)<<24))
	return uint32(h) & x.mask
}

func (x *Expectations) hashMaster(t *packet.Tuple) uint32 {
	h := x.hashAddrs(^x.seed, &t.Src, &t.Dst)
	h = mix64(h ^ (uint64(t.SrcPort) | uint64(t.DstPort)<<16 | uint64(t.Proto)<<32 | uint64(t.Family)<<40))
	return uint32(h) & x.mask
}
