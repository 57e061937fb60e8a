// Package defrag reassembles IPv4 and IPv6 fragments per worker, as Linux
// does before conntrack (nf_defrag_ipv4 / nf_defrag_ipv6): conntrack then
// classifies the reassembled datagram, and the fragment that completes it
// carries its verdict. Memory is preallocated (a fixed number of datagrams
// in progress, each with room for a 65535-byte datagram); nothing is
// allocated per packet and time is the caller's millisecond clock.
//
// The pipeline's use, per fragment p (Parse returned ReasonNone and
// p.Fragment.Is):
//
//	res := r.Add(now, &p)
//	switch res.Status {
//	case defrag.StatusHeld:     // keep the frame, tagged res.Datagram; no verdict yet
//	case defrag.StatusComplete: // packet.Parse(res.Frame, packet.LinkRawIP, &q) and classify q;
//	                            // the verdict applies to this frame and to every held frame
//	                            // tagged res.Datagram (Linux forwards the fragments)
//	case defrag.StatusDropped:  // free this frame (res.Reason); if res.Datagram != 0 the
//	                            // whole datagram was discarded: free its held frames too
//	case defrag.StatusPass:     // not reassembled: classify this fragment as it is (a
//	                            // non-first fragment has no ports: Linux calls it INVALID);
//	                            // if res.Datagram != 0 that datagram was discarded
//	}
//
// and once per burst Expire(now, handles) returns the datagrams that timed
// out, whose held frames the caller frees.
package defrag

import (
	"encoding/binary"
	"hash/maphash"

	"github.com/statewall/statewall/dataplane/packet"
)

// Defaults, from Linux.
const (
	// DefaultIPv4TimeoutMs is net.ipv4.ipfrag_time (30 s).
	DefaultIPv4TimeoutMs = 30_000
	// DefaultIPv6TimeoutMs is net.netfilter.nf_conntrack_frag6_timeout (60 s).
	DefaultIPv6TimeoutMs = 60_000
	// DefaultMaxDatagrams bounds datagrams in progress: 64 x 66 KiB is
	// about Linux's 4 MiB ipfrag_high_thresh.
	DefaultMaxDatagrams = 64
	// DefaultMaxRuns bounds the disjoint byte ranges of one datagram.
	DefaultMaxRuns = 64
	// MaxDatagramSize is the largest reassembled payload held.
	MaxDatagramSize = 65535
	// HeaderRoom is the room for the first fragment's header (IPv4 header
	// with options, or IPv6 header with the extension headers before the
	// fragment header); a longer one drops the datagram.
	HeaderRoom = 1024
)

// Config sizes a Reassembler; zero fields take the defaults.
type Config struct {
	MaxDatagrams  int    // datagrams in progress at once (at most 65535)
	MaxRuns       int    // disjoint byte ranges per datagram
	IPv4TimeoutMs uint32 // time from a datagram's first fragment to its expiry
	IPv6TimeoutMs uint32
}

// withDefaults fills zero fields.
func (c Config) withDefaults() Config {
	if c.MaxDatagrams <= 0 {
		c.MaxDatagrams = DefaultMaxDatagrams
	}
	c.MaxDatagrams = min(c.MaxDatagrams, 0xffff)
	if c.MaxRuns <= 0 {
		c.MaxRuns = DefaultMaxRuns
	}
	if c.IPv4TimeoutMs == 0 {
		c.IPv4TimeoutMs = DefaultIPv4TimeoutMs
	}
	if c.IPv6TimeoutMs == 0 {
		c.IPv6TimeoutMs = DefaultIPv6TimeoutMs
	}
	return c
}

// Status is what Add did with a fragment.
type Status uint8

// Statuses of Add.
const (
	StatusPass     Status = iota // not reassembled: conntrack sees the packet as it is
	StatusHeld                   // held until its datagram completes, is dropped or expires
	StatusComplete               // completed its datagram: Result.Frame holds it
	StatusDropped                // dropped (Result.Reason)
)

// String returns the status name.
func (s Status) String() string {
	switch s {
	case StatusPass:
		return "pass"
	case StatusHeld:
		return "held"
	case StatusComplete:
		return "complete"
	case StatusDropped:
		return "dropped"
	}
	return "unknown"
}

// Handle names one datagram in reassembly; 0 is none. Handles are not
// reused until 65536 more datagrams have used the same slot.
type Handle uint32

// Result is the outcome of Add.
type Result struct {
	Status Status
	// Reason says why a fragment was dropped (ReasonFragOverlap,
	// ReasonFragTableFull, ReasonBadFragment); ReasonFragHeld when held.
	Reason packet.DropReason
	// Datagram is the datagram the fragment belongs to (Held, Complete);
	// with Dropped or Pass it is nonzero only when the whole datagram was
	// discarded, and its held frames must be freed.
	Datagram Handle
	// Frame is the reassembled datagram with StatusComplete, framed as
	// packet.LinkRawIP, in a buffer owned by the Reassembler: valid until
	// the next call.
	Frame []byte
}

// key identifies a datagram as Linux's fragment queues do: addresses and
// identification, plus the protocol for IPv4.
type key struct {
	src, dst [16]byte
	id       uint32
	proto    uint8
	family   packet.Family
}

// run is a byte range [start, end) of contiguous fragments, as Linux's
// fragment runs.
type run struct{ start, end int32 }

// Datagram flags.
const (
	flagFirst = 1 << iota // the fragment at offset 0 arrived
	flagLast              // the fragment without MF arrived
	flagDF                // some fragment had DF (IPv4)
)

// slot is one datagram in reassembly.
type slot struct {
	key      key
	handle   Handle
	deadline uint32
	flags    uint8
	nextHdr  uint8 // IPv6: the fragment header's next header (first fragment)
	nruns    int32
	length   int32 // highest end seen, or the final length once flagLast
	meat     int32 // bytes received
	hdrLen   int32 // header bytes held before the data
	prevOff  int32 // IPv6: offset in the header of the byte naming the fragment header
	hashNext int32
	lruPrev  int32
	lruNext  int32
	inUse    bool
}

// lru is a list of slots in creation order (oldest first); with one
// timeout per family, the head is always the first to expire.
type lru struct{ head, tail int32 }

// Reassembler holds one worker's datagrams in reassembly. It is not safe
// for concurrent use: each worker owns one.
type Reassembler struct {
	cfg      Config
	slots    []slot
	runs     []run  // cfg.MaxRuns per slot
	buf      []byte // slotSize per slot: HeaderRoom, then the data
	slotSize int
	buckets  []int32
	mask     uint64
	seed     uint64
	free     []int32
	lists    [2]lru // IPv4, IPv6
	gen      uint32
}

// New returns a Reassembler with all its memory allocated.
func New(cfg Config) *Reassembler {
	cfg = cfg.withDefaults()
	n := cfg.MaxDatagrams
	nb := 1
	for nb < 2*n {
		nb <<= 1
	}
	r := &Reassembler{
		cfg:      cfg,
		slots:    make([]slot, n),
		runs:     make([]run, n*cfg.MaxRuns),
		slotSize: HeaderRoom + MaxDatagramSize,
		buckets:  make([]int32, nb),
		mask:     uint64(nb - 1),
		seed:     maphash.Bytes(maphash.MakeSeed(), nil),
		free:     make([]int32, 0, n),
	}
	r.buf = make([]byte, n*r.slotSize)
	for i := range r.buckets {
		r.buckets[i] = -1
	}
	for i := n - 1; i >= 0; i-- {
		r.free = append(r.free, int32(i))
	}
	r.lists[0], r.lists[1] = lru{-1, -1}, lru{-1, -1}
	return r
}

// InProgress returns the number of datagrams being reassembled.
func (r *Reassembler) InProgress() int { return len(r.slots) - len(r.free) }

// Add offers one fragment, parsed by packet.Parse (which returned
// ReasonNone), at time now (milliseconds, any epoch, wrapping). The
// fragment's bytes are copied; p.Frame may be reused after the call. A
// packet that is not a fragment is passed.
//
// Checks follow Linux (ip_frag_queue, nf_ct_frag6_queue,
// inet_frag_queue_insert): a fragment wholly inside data already held is
// a duplicate and dropped alone; one that partly overlaps discards the
// datagram (RFC 5722, and IPv4 in current kernels); a last fragment that
// disagrees with the length seen, data beyond a last fragment, or an
// empty fragment discard an IPv4 datagram but only the fragment for IPv6;
// an IPv6 fragment with MF whose length is not a multiple of 8 discards
// the datagram and is passed to conntrack as it is, as is an IPv6 first
// fragment that holds no upper-layer header. Linux's IPv4 ipfrag_max_dist
// check and ECN consistency check are not done.
func (r *Reassembler) Add(now uint32, p *packet.Parsed) Result {
	f := &p.Fragment
	fam := p.Tuple.Family
	if !f.Is || (fam != packet.FamilyIPv4 && fam != packet.FamilyIPv6) {
		return Result{Status: StatusPass}
	}
	v6 := fam == packet.FamilyIPv6
	l3 := int(p.L3Off)
	ipEnd := l3 + int(p.IPLen)
	dataOff := int(p.FragDataOff)
	if dataOff < l3 || dataOff > ipEnd || ipEnd > len(p.Frame) {
		return Result{Status: StatusDropped, Reason: packet.ReasonBadFragment}
	}
	data := p.Frame[dataOff:ipEnd]
	offset := int(f.Offset)
	end := offset + len(data)
	if v6 && offset == 0 && p.L4Off != 0 && int(p.L4Off) >= ipEnd && p.Tuple.Proto != packet.IPv6NoNext {
		// ipv6frag_thdr_truncated: no upper-layer header in the first fragment.
		return Result{Status: StatusPass}
	}
	if end > MaxDatagramSize {
		return Result{Status: StatusDropped, Reason: packet.ReasonBadFragment}
	}
	k := key{src: p.Tuple.Src, dst: p.Tuple.Dst, id: f.ID, family: fam}
	if !v6 {
		k.proto = p.Tuple.Proto
	}
	si := r.lookup(k)
	if si < 0 {
		if si = r.create(k, now); si < 0 {
			return Result{Status: StatusDropped, Reason: packet.ReasonFragTableFull}
		}
	}
	s := &r.slots[si]

	// Length and consistency checks (in Linux's order).
	if !f.More {
		if end < int(s.length) || (s.flags&flagLast != 0 && end != int(s.length)) {
			return r.refuse(si, v6, packet.ReasonFragOverlap)
		}
		s.flags |= flagLast
		s.length = int32(end)
	} else {
		if end&7 != 0 {
			if v6 {
				res := r.discard(si, packet.ReasonNone)
				return Result{Status: StatusPass, Datagram: res.Datagram}
			}
			end &^= 7
			data = data[:end-offset]
		}
		if end > int(s.length) {
			if s.flags&flagLast != 0 {
				return r.refuse(si, v6, packet.ReasonFragOverlap)
			}
			s.length = int32(end)
		}
	}
	if end == offset {
		return r.refuse(si, v6, packet.ReasonBadFragment)
	}

	switch r.insert(si, int32(offset), int32(end)) {
	case insertDup:
		return r.refuse(si, true, packet.ReasonFragOverlap)
	case insertOverlap:
		return r.discard(si, packet.ReasonFragOverlap)
	case insertFull:
		return r.discard(si, packet.ReasonFragTableFull)
	}
	base := si * r.slotSize
	copy(r.buf[base+HeaderRoom+offset:], data)
	s.meat += int32(end - offset)
	if offset == 0 {
		if !r.keepHeader(si, p) {
			return r.discard(si, packet.ReasonBadFragment)
		}
		s.flags |= flagFirst
	}
	if !v6 && binary.BigEndian.Uint16(p.Frame[l3+6:])&packet.IPv4FlagDF != 0 {
		s.flags |= flagDF
	}
	if s.flags&(flagFirst|flagLast) == flagFirst|flagLast && s.meat == s.length {
		return r.complete(si)
	}
	return Result{Status: StatusHeld, Reason: packet.ReasonFragHeld, Datagram: s.handle}
}

// refuse drops the fragment alone when alone is set (the datagram stays,
// unless it holds nothing yet), else discards the datagram.
func (r *Reassembler) refuse(si int, alone bool, reason packet.DropReason) Result {
	if !alone {
		return r.discard(si, reason)
	}
	if r.slots[si].nruns == 0 {
		r.release(si) // created for this fragment only: nothing is held
	}
	return Result{Status: StatusDropped, Reason: reason}
}

// discard drops the fragment and its datagram.
func (r *Reassembler) discard(si int, reason packet.DropReason) Result {
	s := &r.slots[si]
	h := s.handle
	if s.nruns == 0 {
		h = 0 // nothing was held
	}
	r.release(si)
	return Result{Status: StatusDropped, Reason: reason, Datagram: h}
}

// keepHeader stores the first fragment's header before the slot's data:
// the IPv4 header, or the IPv6 header and the extension headers before
// the fragment header.
func (r *Reassembler) keepHeader(si int, p *packet.Parsed) bool {
	s := &r.slots[si]
	l3 := int(p.L3Off)
	var hl int
	if s.key.family == packet.FamilyIPv4 {
		hl = int(p.FragDataOff) - l3
	} else {
		c, rs := packet.IPv6(p.Frame[l3 : l3+int(p.IPLen)]).WalkExt()
		if rs != packet.ReasonNone || c.FragOff == 0 || l3+c.FragOff+packet.IPv6FragmentSize != int(p.FragDataOff) {
			return false
		}
		hl = c.FragOff
		s.prevOff = int32(c.PrevOff)
		s.nextHdr = p.Frame[l3+c.FragOff]
	}
	if hl > HeaderRoom {
		return false
	}
	base := si * r.slotSize
	copy(r.buf[base+HeaderRoom-hl:base+HeaderRoom], p.Frame[l3:l3+hl])
	s.hdrLen = int32(hl)
	return true
}

// complete builds the datagram in the slot's buffer and frees the slot.
func (r *Reassembler) complete(si int) Result {
	s := &r.slots[si]
	base := si * r.slotSize
	hl, n := int(s.hdrLen), int(s.length)
	out := r.buf[base+HeaderRoom-hl : base+HeaderRoom+n]
	if s.key.family == packet.FamilyIPv4 {
		if hl+n > 0xffff {
			return r.discard(si, packet.ReasonBadFragment) // Linux: oversized
		}
		ip := packet.IPv4(out)
		binary.BigEndian.PutUint16(out[2:], uint16(hl+n))
		var ff uint16
		if s.flags&flagDF != 0 {
			ff = packet.IPv4FlagDF
		}
		binary.BigEndian.PutUint16(out[6:], ff)
		ip.SetChecksum()
	} else {
		pl := hl - packet.IPv6Size + n
		if pl > 0xffff {
			return r.discard(si, packet.ReasonBadFragment)
		}
		binary.BigEndian.PutUint16(out[4:], uint16(pl))
		out[s.prevOff] = s.nextHdr
	}
	h := s.handle
	r.release(si)
	return Result{Status: StatusComplete, Datagram: h, Frame: out}
}

// Expire discards the datagrams whose time ran out by now and writes
// their handles to expired (whose held frames the caller frees, counting
// ReasonFragTimeout). It returns how many it wrote; when that is
// len(expired), call it again. Call it once per burst, before Add.
func (r *Reassembler) Expire(now uint32, expired []Handle) int {
	n := 0
	for li := range r.lists {
		for n < len(expired) {
			si := r.lists[li].head
			if si < 0 || int32(now-r.slots[si].deadline) < 0 {
				break
			}
			if r.slots[si].nruns != 0 {
				expired[n] = r.slots[si].handle
				n++
			}
			r.release(int(si))
		}
	}
	return n
}

// Results of insert.
const (
	insertOK = iota
	insertDup
	insertOverlap
	insertFull
)

// insert adds [start, end) to the slot's runs as inet_frag_queue_insert
// does: past the last run it extends or follows it; otherwise it must fit
// a gap (a new run) or lie wholly inside one run (a duplicate); anything
// else overlaps.
func (r *Reassembler) insert(si int, start, end int32) int {
	s := &r.slots[si]
	runs := r.runs[si*r.cfg.MaxRuns : si*r.cfg.MaxRuns+int(s.nruns)]
	if len(runs) == 0 {
		r.runs[si*r.cfg.MaxRuns] = run{start, end}
		s.nruns = 1
		return insertOK
	}
	last := &runs[len(runs)-1]
	if last.end < end {
		if start < last.end {
			return insertOverlap
		}
		if start == last.end {
			last.end = end
			return insertOK
		}
		return r.insertAt(si, len(runs), start, end)
	}
	i := 0
	for i < len(runs) && runs[i].end <= start {
		i++
	}
	// runs[i] is the first run ending after start (one exists: last.end >= end > start).
	switch {
	case end <= runs[i].start:
		return r.insertAt(si, i, start, end)
	case start >= runs[i].start && end <= runs[i].end:
		return insertDup
	}
	return insertOverlap
}

// insertAt inserts a new run at index i of the slot's runs.
func (r *Reassembler) insertAt(si, i int, start, end int32) int {
	s := &r.slots[si]
	if int(s.nruns) == r.cfg.MaxRuns {
		return insertFull
	}
	all := r.runs[si*r.cfg.MaxRuns : si*r.cfg.MaxRuns+int(s.nruns)+1]
	copy(all[i+1:], all[i:])
	all[i] = run{start, end}
	s.nruns++
	return insertOK
}

// hash returns the bucket of k.
func (r *Reassembler) hash(k *key) uint64 {
	h := r.seed ^ uint64(k.id) ^ uint64(k.proto)<<32 ^ uint64(k.family)<<40
	for i := 0; i < 16; i += 8 {
		h = (h ^ binary.LittleEndian.Uint64(k.src[i:])) * 0x9e3779b97f4a7c15
		h = (h ^ binary.LittleEndian.Uint64(k.dst[i:])) * 0xbf58476d1ce4e5b9
	}
	h ^= h >> 31
	return h & r.mask
}

// lookup returns the slot holding k, or -1.
func (r *Reassembler) lookup(k key) int {
	for si := r.buckets[r.hash(&k)]; si >= 0; si = r.slots[si].hashNext {
		if r.slots[si].key == k {
			return int(si)
		}
	}
	return -1
}

// create takes a free slot for k, or returns -1 when none is free.
func (r *Reassembler) create(k key, now uint32) int {
	if len(r.free) == 0 {
		return -1
	}
	si := r.free[len(r.free)-1]
	r.free = r.free[:len(r.free)-1]
	r.gen++
	timeout, li := r.cfg.IPv4TimeoutMs, 0
	if k.family == packet.FamilyIPv6 {
		timeout, li = r.cfg.IPv6TimeoutMs, 1
	}
	b := r.hash(&k)
	r.slots[si] = slot{
		key:      k,
		handle:   Handle(uint32(r.gen)<<16 | uint32(si+1)),
		deadline: now + timeout,
		hashNext: r.buckets[b],
		lruPrev:  r.lists[li].tail,
		lruNext:  -1,
		inUse:    true,
	}
	r.buckets[b] = si
	if t := r.lists[li].tail; t >= 0 {
		r.slots[t].lruNext = si
	} else {
		r.lists[li].head = si
	}
	r.lists[li].tail = si
	return int(si)
}

// release unlinks slot si and returns it to the free list.
func (r *Reassembler) release(si int) {
	s := &r.slots[si]
	if !s.inUse {
		return
	}
	b := r.hash(&s.key)
	for p := &r.buckets[b]; *p >= 0; p = &r.slots[*p].hashNext {
		if int(*p) == si {
			*p = s.hashNext
			break
		}
	}
	li := 0
	if s.key.family == packet.FamilyIPv6 {
		li = 1
	}
	if s.lruPrev >= 0 {
		r.slots[s.lruPrev].lruNext = s.lruNext
	} else {
		r.lists[li].head = s.lruNext
	}
	if s.lruNext >= 0 {
		r.slots[s.lruNext].lruPrev = s.lruPrev
	} else {
		r.lists[li].tail = s.lruPrev
	}
	s.inUse = false
	r.free = append(r.free, int32(si))
}
