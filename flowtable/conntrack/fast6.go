package conntrack

import (
	"unsafe"

	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/flowtable"
	"github.com/statewall/statewall/flowtable/ctstate"
)

// The IPv6 fast path is the IPv4 one (fast.go) for segments and datagrams
// packet.ParseTCP6 and ParseUDP6 read, in the same passes: BeginTCP6 or
// BeginUDP6, Candidate6, then TrackEstablished6 or TrackEstablishedUDP6.
// Its functions are the IPv4 ones over the IPv6 table, written out again
// for the reason fast.go gives: the pipeline inlines them, and a helper
// they shared would stay a call per packet.

// Established6 is Established4 for IPv6.
type Established6 struct {
	k      flowtable.Key6
	srcIsB bool
	hash   uint64
	hint   flowtable.Hint

	ref flowtable.Ref
	e   *Entry6
	dir ctstate.Dir
}

// Hash is the packet's Hash (for Track, when the fast path declines it).
func (x *Established6) Hash() uint64 { return x.hash }

// Dir is the packet's direction in the connection.
func (x *Established6) Dir() ctstate.Dir { return x.dir }

// Cache is the connection's verdict-cache word (see VerdictCache).
func (x *Established6) Cache() *uint32 { return &x.e.Value.Cache }

// BeginTCP6 is BeginTCP4 for a segment packet.ParseTCP6 read.
func (t *Tracker) BeginTCP6(s *packet.TCP6, x *Established6) uintptr {
	x.srcIsB = flowtable.MakeKey6Addr(&x.k, &s.Src, &s.Dst, s.SrcPort, s.DstPort, packet.ProtoTCP, 0)
	x.hash = flowtable.HashKey6(&x.k)
	t.t6.tb.Begin(x.hash, &x.hint)
	return t.t6.tb.BucketAddr(&x.hint)
}

// BeginUDP6 is BeginTCP6 for a datagram packet.ParseUDP6 read.
func (t *Tracker) BeginUDP6(s *packet.UDP6, x *Established6) uintptr {
	x.srcIsB = flowtable.MakeKey6Addr(&x.k, &s.Src, &s.Dst, s.SrcPort, s.DstPort, packet.ProtoUDP, 0)
	x.hash = flowtable.HashKey6(&x.k)
	t.t6.tb.Begin(x.hash, &x.hint)
	return t.t6.tb.BucketAddr(&x.hint)
}

// Candidate6 is Candidate4 for an IPv6 lookup. An IPv6 entry (88 bytes)
// mostly straddles two cache lines: last is the address of its last byte,
// to prefetch as well (0 with first).
func (t *Tracker) Candidate6(x *Established6) (first, last uintptr) {
	if a := t.t6.tb.ReadBucket(&x.hint); a != 0 {
		return a, a + unsafe.Sizeof(Entry6{}) - 1
	}
	return 0, 0
}

// TrackEstablished6 is TrackEstablished4 for a segment BeginTCP6 began,
// read from frame: it calls nothing, and leaves what takes a call to
// TrackEstablishedCall6 (FastCall, FastCallFound).
func (t *Tracker) TrackEstablished6(now uint32, s *packet.TCP6, frame []byte, x *Established6) FastOutcome {
	if !tcpCheckFlags(s.Flags) {
		return FastDeclined
	}
	// The candidate's key is compared here: == on a Key6 calls
	// runtime.memequal, Equal does not.
	ref := t.t6.tb.Candidate(&x.hint)
	if ref == 0 {
		return FastCall // no candidate: a lookup finds the connection
	}
	e := t.t6.tb.Entry(ref)
	if !e.Key.Equal(&x.k) {
		return FastCall
	}
	if !fastTakes(e.Expires, e.Flags, now) || !e.Value.takesSegment(s.Flags) {
		return FastDeclined
	}
	x.ref, x.e, x.dir = ref, e, dirOf(x.srcIsB, e.Flags)
	dir := int(x.dir)
	if hl := int(s.HeaderLen); hl > packet.TCPMinSize && e.Value.df[1-dir&1]&dfSACKPerm != 0 &&
		!timestampOnly(frame[packet.L4Off6+packet.TCPMinSize:packet.L4Off6+hl]) {
		return FastCallFound // SACK blocks, maybe
	}
	timeout, ok := t.tcp.ackEstablished(&e.Value, e.Flags, dir, s.Flags, s.Seq, s.Ack, s.PayloadLen, s.Window, s.Ack)
	if !ok {
		return FastCallFound
	}
	t.now = now
	ackAccepted(&e.Flags, &e.Expires, now, timeout, dir)
	return FastEstablished
}

// TrackEstablishedCall6 is TrackEstablishedCall4 for a segment
// BeginTCP6 began: it takes any segment TrackEstablished6 may take, out
// being what that returned (FastCall where it did not run).
//
//go:noinline
func (t *Tracker) TrackEstablishedCall6(now uint32, s *packet.TCP6, frame []byte, x *Established6, r *Result, out FastOutcome) FastOutcome {
	if out != FastCallFound {
		if !tcpCheckFlags(s.Flags) {
			return FastDeclined
		}
		ref, e := t.t6.tb.FindHint(x.k, &x.hint)
		if e == nil || !fastTakes(e.Expires, e.Flags, now) || !e.Value.takesSegment(s.Flags) {
			return FastDeclined
		}
		x.ref, x.e, x.dir = ref, e, dirOf(x.srcIsB, e.Flags)
	}
	var opts []byte
	if hl := int(s.HeaderLen); hl > packet.TCPMinSize {
		opts = frame[packet.L4Off6+packet.TCPMinSize : packet.L4Off6+hl]
	}
	return trackFound(t, &t.t6, now, x.ref, x.e, x.dir, s.Flags, s.Seq, s.Ack, s.PayloadLen, s.Window, opts, r)
}

// TrackEstablishedUDP6 is TrackEstablishedUDP4 for a datagram BeginUDP6
// began.
func (t *Tracker) TrackEstablishedUDP6(now uint32, x *Established6) FastOutcome {
	// The candidate's key is compared here: == on a Key6 calls
	// runtime.memequal (LookupHint's compare), Equal does not.
	ref := t.t6.tb.Candidate(&x.hint)
	if ref == 0 || !t.t6.tb.Entry(ref).Key.Equal(&x.k) {
		if ref = t.t6.tb.LookupHint(x.k, &x.hint); ref == 0 {
			return FastDeclined
		}
	}
	e := t.t6.tb.Entry(ref)
	if !fastTakes(e.Expires, e.Flags, now) {
		return FastDeclined
	}
	x.ref, x.e, x.dir = ref, e, dirOf(x.srcIsB, e.Flags)
	t.now = now
	udpExisting(t, now, &e.Flags, &e.Expires, &e.Value, x.dir)
	return FastEstablished
}

// Result is Established4.Result for IPv6.
func (x *Established6) Result(r *Result) {
	*r = fastResult(packet.FamilyIPv6, x.k.Proto(), x.dir, x.ref)
}
