package conntrack

import (
	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/flowtable"
	"github.com/statewall/statewall/flowtable/ctstate"
)

// The fast path takes the most common packet, a segment of a replied IPv4
// TCP connection read by packet.ParseTCP4, without a packet.Parsed:
// HashTCP4 in the burst's pre-pass, then FindEstablished4, which changes
// nothing, then TrackEstablished4, which is Track's own code for an
// existing connection. Whatever FindEstablished4 declines goes to Track.

// Established4 is the connection FindEstablished4 found for a segment.
type Established4 struct {
	ref flowtable.Ref
	e   *Entry4
	dir ctstate.Dir
}

// Dir is the segment's direction in the connection.
func (x *Established4) Dir() ctstate.Dir { return x.dir }

// Cache is the connection's verdict-cache word (see VerdictCache).
func (x *Established4) Cache() *uint32 { return &x.e.Value.Cache }

// keyTCP4 is the key of an untagged segment (conntrack zone 0).
func keyTCP4(s *packet.TCP4) (flowtable.Key4, bool) {
	return flowtable.MakeKey4Addr(s.Src, s.Dst, s.SrcPort, s.DstPort, packet.ProtoTCP, 0)
}

// HashTCP4 is Hash for a segment packet.ParseTCP4 read.
func (t *Tracker) HashTCP4(s *packet.TCP4) uint64 {
	k, _ := keyTCP4(s)
	return k.Hash()
}

// FindEstablished4 looks up the connection of s (h from HashTCP4) and
// reports whether TrackEstablished4 may take s: s carries valid flags
// without SYN, and its connection exists, has not expired, has seen a
// reply (so s is ESTABLISHED unless the window checks make it INVALID)
// and has no ALG helper (Confirm has nothing to do). It changes nothing;
// when it reports false, Track takes the packet.
func (t *Tracker) FindEstablished4(now uint32, s *packet.TCP4, h uint64, x *Established4) bool {
	if s.Flags&packet.TCPSyn != 0 || !tcpCheckFlags(s.Flags) {
		return false
	}
	k, srcIsB := keyTCP4(s)
	ref := t.t4.tb.Lookup(k, h)
	if ref == 0 {
		return false
	}
	e := t.t4.tb.Entry(ref)
	if flowtable.Expired(e.Expires, now) || e.Flags&(FlagSeenReply|FlagHelper) != FlagSeenReply {
		return false
	}
	x.ref, x.e, x.dir = ref, e, dirOf(srcIsB, e.Flags)
	return true
}

// TrackEstablished4 is Track for a segment FindEstablished4 accepted,
// read from frame: it updates the connection and writes to r what Track
// would.
func (t *Tracker) TrackEstablished4(now uint32, s *packet.TCP4, frame []byte, x *Established4, r *Result) {
	*r = Result{fam: packet.FamilyIPv4, proto: packet.ProtoTCP}
	t.now = now
	var seg tcpSeg
	fillSeg(&seg, s.Seq, s.Ack, s.Window, s.Flags, s.PayloadLen)
	if hl := int(s.HeaderLen); hl > packet.TCPMinSize {
		seg.opts = frame[packet.TCP4Off+packet.TCPMinSize : packet.TCP4Off+hl]
	}
	t.t4.tcpExisting(t, now, x.ref, x.e, x.dir, &seg, nil, r)
	if r.State == ctstate.Invalid {
		t.stats.invalid[r.Reason]++
	}
}
