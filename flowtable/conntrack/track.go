package conntrack

import (
	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/flowtable"
	"github.com/statewall/statewall/flowtable/ctstate"
)

// key is what the tracker needs of a table key.
type key interface {
	flowtable.Hashable
	Tuple(origIsB bool) packet.Tuple
}

// famTable is one address family's table and its key constructor.
type famTable[K key] struct {
	tb       *flowtable.Table[K, Conn]
	mk       func(t *packet.Tuple, zone uint16) (K, bool)
	fam      packet.Family
	onExpire func(flowtable.Ref, *flowtable.Entry[K, Conn])
}

// packetState is the ct state of a packet of an existing connection, from
// the entry's status before the packet (Linux's resolve_normal_ct).
func packetState(flags uint8, dir ctstate.Dir) ctstate.State {
	switch {
	case dir == ctstate.Reply || flags&FlagSeenReply != 0:
		return ctstate.Established
	case flags&FlagExpected != 0:
		return ctstate.Related
	}
	return ctstate.New
}

func dirOf(srcIsB bool, flags uint8) ctstate.Dir {
	if srcIsB != (flags&flowtable.FlagOrigIsB != 0) {
		return ctstate.Reply
	}
	return ctstate.Original
}

// ICMP types by role.
func isICMPError(p *packet.Parsed) bool {
	return icmpTracked(p) && p.ICMP.IsError
}

// icmpTracked reports whether p is ICMP over IPv4 or ICMPv6 over IPv6 (the
// other combinations are generic protocols, as in Linux).
func icmpTracked(p *packet.Parsed) bool {
	switch p.Tuple.Proto {
	case packet.ProtoICMP:
		return p.Tuple.Family == packet.FamilyIPv4
	case packet.ProtoICMPv6:
		return p.Tuple.Family == packet.FamilyIPv6
	}
	return false
}

// icmpQuery says whether an ICMP/ICMPv6 type starts a connection (a query),
// answers one (a reply), or neither (Linux cannot invert its tuple).
type icmpRole uint8

const (
	icmpOther icmpRole = iota
	icmpRequest
	icmpReply
	icmpUntracked // ICMPv6 ND/MLD: never tracked
)

var icmp4Roles = [...]icmpRole{
	packet.ICMPEcho: icmpRequest, packet.ICMPEchoReply: icmpReply,
	packet.ICMPTimestamp: icmpRequest, packet.ICMPTimestampReply: icmpReply,
	packet.ICMPInfoRequest: icmpRequest, packet.ICMPInfoReply: icmpReply,
	packet.ICMPAddrMask: icmpRequest, packet.ICMPAddrMaskReply: icmpReply,
}

func icmpRoleOf(proto, typ uint8) icmpRole {
	if proto == packet.ProtoICMP {
		if int(typ) < len(icmp4Roles) {
			return icmp4Roles[typ]
		}
		return icmpOther
	}
	switch typ {
	case packet.ICMPv6EchoRequest, packet.ICMPv6NIQuery:
		return icmpRequest
	case packet.ICMPv6EchoReply, packet.ICMPv6NIReply:
		return icmpReply
	case 130, 131, 132, 133, 134, 135, 136, 143: // MLD, RS, RA, NS, NA, MLDv2 report
		return icmpUntracked
	}
	return icmpOther
}

// maxICMPType is Linux's NR_ICMP_TYPES: higher IPv4 types are INVALID.
const maxICMPType = 18

// hashOf returns the table hash of a tuple's key.
func (f *famTable[K]) hashOf(tu *packet.Tuple, zone uint16) uint64 {
	k, _ := f.mk(tu, zone)
	return k.Hash()
}

// lookup finds the live entry of k (deleting it if expired at now).
func (f *famTable[K]) lookup(t *Tracker, k K, h uint64, now uint32, proto uint8) (flowtable.Ref, *flowtable.Entry[K, Conn]) {
	r := f.tb.Lookup(k, h)
	if r == 0 {
		return 0, nil
	}
	e := f.tb.Entry(r)
	if flowtable.Expired(e.Expires, now) {
		t.stats.proto[protoIndex(f.fam, proto)].Expiries++
		f.remove(t, r, proto)
		t.stats.proto[protoIndex(f.fam, proto)].Deletes--
		return 0, nil
	}
	return r, e
}

// remove deletes entry r and frees its helper slot.
func (f *famTable[K]) remove(t *Tracker, r flowtable.Ref, proto uint8) {
	e := f.tb.Entry(r)
	if e == nil {
		return
	}
	if e.Flags&FlagHelper != 0 {
		t.hp.release(f.fam, r)
	}
	t.stats.proto[protoIndex(f.fam, proto)].Deletes++
	f.tb.Delete(r)
}

// insert creates the entry of k for a new connection whose first packet
// has srcIsB, or fails with INVALID table_full.
func (f *famTable[K]) insert(t *Tracker, k K, h uint64, now uint32, srcIsB bool, proto uint8, r *Result) *flowtable.Entry[K, Conn] {
	ps := &t.stats.proto[protoIndex(f.fam, proto)]
	var ref flowtable.Ref
	var evicted bool
	if t.opts.MaxConns > 0 && t.t4.tb.Len()+t.t6.tb.Len() >= t.opts.MaxConns {
		ref, evicted = f.tb.InsertEvicting(k, h, now)
	} else {
		ref, evicted = f.tb.Insert(k, h, now)
	}
	if ref == 0 {
		ps.TableFull++
		r.State, r.Reason = ctstate.Invalid, packet.ReasonTableFull
		return nil
	}
	if evicted {
		ps.EarlyDrops++
	}
	ps.Inserts++
	t.hp.release(f.fam, ref) // a slot left by an entry evicted inside Insert
	e := f.tb.Entry(ref)
	if srcIsB {
		e.Flags |= flowtable.FlagOrigIsB
	}
	r.ref, r.Created = ref, true
	return e
}

// track is Track for one family; k is the key of p's own tuple (srcIsB
// tells which end sent p), built by the caller where the key type is
// concrete.
func (f *famTable[K]) track(t *Tracker, now uint32, p *packet.Parsed, k K, srcIsB bool, h uint64, r *Result) {
	if p.Fragment.Is && (p.Fragment.Offset != 0 || p.Fragment.More) {
		// Conntrack sees reassembled datagrams only.
		r.State, r.Reason = ctstate.Invalid, packet.ReasonFragHeld
		return
	}
	tu := &p.Tuple
	switch {
	case tu.Proto == packet.ProtoTCP:
		f.trackTCP(t, now, p, k, srcIsB, h, r)
	case tu.Proto == packet.ProtoUDP:
		f.trackUDP(t, now, p, k, srcIsB, h, r)
	case icmpTracked(p):
		f.trackICMP(t, now, p, k, srcIsB, h, r)
	default:
		f.trackGeneric(t, now, p, k, srcIsB, h, r, t.to.generic)
	}
}

// newConn creates the entry of a new connection and classifies its first
// packet as NEW, or RELATED when it matches an expectation.
func (f *famTable[K]) newConn(t *Tracker, now uint32, p *packet.Parsed, k K, h uint64, srcIsB bool, r *Result) *flowtable.Entry[K, Conn] {
	e := f.insert(t, k, h, now, srcIsB, p.Tuple.Proto, r)
	if e == nil {
		return nil
	}
	r.State, r.Dir = ctstate.New, ctstate.Original
	if t.expect != nil && t.expect.Match(now, &p.Tuple) {
		e.Flags |= FlagExpected
		r.State = ctstate.Related
	} else if hi := t.helperFor(&p.Tuple); hi != 0 {
		if t.hp.attach(f.fam, r.ref, uint8(hi-1)) {
			e.Flags |= FlagHelper
		} else {
			t.stats.helperPoolFull++
		}
	}
	return e
}

func (f *famTable[K]) trackTCP(t *Tracker, now uint32, p *packet.Parsed, k K, srcIsB bool, h uint64, r *Result) {
	if !tcpCheckFlags(p.TCP.Flags) {
		r.State, r.Reason = ctstate.Invalid, packet.ReasonTCPInvalidFlags
		return
	}
	var seg tcpSeg
	readSeg(p, &seg)
	ref, e := f.lookup(t, k, h, now, p.Tuple.Proto)
	if e != nil && !f.tcpExisting(t, now, ref, e, dirOf(srcIsB, e.Flags), &seg, r) {
		return
	}
	// A new connection.
	if t.tcp.newState(&seg) == tcpIV {
		r.State, r.Reason = ctstate.Invalid, packet.ReasonTCPInvalidNew
		return
	}
	e = f.newConn(t, now, p, k, h, srcIsB, r)
	if e == nil {
		return
	}
	c := &e.Value
	t.tcp.initNew(c, &seg)
	act, timeout, reason := t.tcp.packet(c, tcpCtx{&e.Flags, &e.Expires, now}, 0, &seg)
	switch act {
	case tcpAccept, tcpNoRefresh, tcpIgnore:
		e.Expires = now + timeout
		if act != tcpAccept {
			e.Expires = now + t.tcp.timeouts[c.tcpState()]
		}
		r.TCPState = c.tcpState()
		if closing(r.TCPState) {
			e.Flags |= flowtable.FlagClosing
		}
	default:
		// Cannot happen for a valid first packet; never keep the entry.
		f.remove(t, r.ref, packet.ProtoTCP)
		r.ref, r.Created = 0, false
		if act == tcpInvalid {
			r.State, r.Reason = ctstate.Invalid, reason
		}
	}
}

// tcpExisting tracks seg on the entry e (ref) of its connection, in
// direction dir, and writes the outcome to r. It reports true when the
// segment reopens the connection: the entry is gone and the segment is
// to be tracked as the first of a new one.
func (f *famTable[K]) tcpExisting(t *Tracker, now uint32, ref flowtable.Ref, e *flowtable.Entry[K, Conn], dir ctstate.Dir, seg *tcpSeg, r *Result) (reopen bool) {
	st := packetState(e.Flags, dir)
	act, timeout, reason := t.tcp.packet(&e.Value, tcpCtx{&e.Flags, &e.Expires, now}, int(dir), seg)
	switch act {
	case tcpInvalid:
		r.State, r.Reason, r.Dir = ctstate.Invalid, reason, dir
		r.TCPState = e.Value.tcpState()
		return false
	case tcpReopen:
		f.remove(t, ref, packet.ProtoTCP)
		return true
	case tcpAccept:
		e.Expires = now + timeout
	}
	if dir == ctstate.Reply {
		e.Flags |= FlagSeenReply
	}
	ts := e.Value.tcpState()
	if closing(ts) {
		e.Flags |= flowtable.FlagClosing
	} else {
		e.Flags &^= flowtable.FlagClosing
	}
	r.State, r.Dir, r.TCPState, r.ref = st, dir, ts, ref
	if act == tcpKill {
		f.remove(t, ref, packet.ProtoTCP)
		r.ref = 0
	}
	return false
}

// udpLengthOK is Linux's udp_error length check.
func udpLengthOK(p *packet.Parsed) bool {
	avail := int(p.IPLen) - int(p.L4Off-p.L3Off)
	return p.UDPLen >= 8 && int(p.UDPLen) <= avail
}

func (f *famTable[K]) trackUDP(t *Tracker, now uint32, p *packet.Parsed, k K, srcIsB bool, h uint64, r *Result) {
	if !udpLengthOK(p) {
		r.State, r.Reason = ctstate.Invalid, packet.ReasonUDPBadLength
		return
	}
	ref, e := f.lookup(t, k, h, now, p.Tuple.Proto)
	if e == nil {
		if e = f.newConn(t, now, p, k, h, srcIsB, r); e != nil {
			e.Value.setCreated(now)
			e.Expires = now + t.to.udp
		}
		return
	}
	dir := dirOf(srcIsB, e.Flags)
	r.State, r.Dir, r.ref = packetState(e.Flags, dir), dir, ref
	udpExisting(t, now, &e.Flags, &e.Expires, &e.Value, dir)
}

// udpExisting tracks a UDP packet on its connection's entry (flags,
// expiry, value) in direction dir, as Linux's nf_conntrack_udp_packet:
// replied and still active two seconds after creation is a stream:
// ASSURED, with the longer timeout.
func udpExisting(t *Tracker, now uint32, flags *uint8, expires *uint32, c *Conn, dir ctstate.Dir) {
	timeout := t.to.udp
	// after(now, created+2000), spelled out: TrackEstablishedUDP4 stays
	// under the inliner's budget (80), so that the fast path tracks a
	// datagram without a call.
	if *flags&FlagSeenReply != 0 && int32(c.created()+2000-now) < 0 {
		timeout = t.to.udpStream
		*flags |= flowtable.FlagAssured
	}
	*expires = now + timeout
	*flags |= FlagSeenReply * uint8(dir&1) // a reply, without a branch
}

func (f *famTable[K]) trackGeneric(t *Tracker, now uint32, p *packet.Parsed, k K, srcIsB bool, h uint64, r *Result, timeout uint32) {
	ref, e := f.lookup(t, k, h, now, p.Tuple.Proto)
	if e == nil {
		if e = f.newConn(t, now, p, k, h, srcIsB, r); e != nil {
			e.Value.setCreated(now)
			e.Expires = now + timeout
		}
		return
	}
	dir := dirOf(srcIsB, e.Flags)
	r.State, r.Dir, r.ref = packetState(e.Flags, dir), dir, ref
	e.Expires = now + timeout
	if dir == ctstate.Reply {
		e.Flags |= FlagSeenReply
	}
}

func (f *famTable[K]) trackICMP(t *Tracker, now uint32, p *packet.Parsed, k K, srcIsB bool, h uint64, r *Result) {
	ic := &p.ICMP
	v4 := p.Tuple.Proto == packet.ProtoICMP
	if v4 && ic.Type > maxICMPType {
		r.State, r.Reason = ctstate.Invalid, packet.ReasonICMPUnknownType
		return
	}
	role := icmpRoleOf(p.Tuple.Proto, ic.Type)
	if role == icmpUntracked {
		r.State = ctstate.Untracked
		return
	}
	if ic.IsError {
		f.icmpError(t, now, p, h, r)
		return
	}
	if !v4 && ic.Type == ndRedirect {
		// An ND redirect quotes the redirected packet: RELATED to its
		// connection, as an error is (Linux 6.x).
		var in packet.Tuple
		ok, bad := ndRedirectQuote(p, &in)
		if ok {
			f.relate(t, now, p, &in, r)
			return
		}
		if bad != packet.ReasonNone {
			r.State, r.Reason = ctstate.Invalid, bad
			return
		}
	}
	if role == icmpOther {
		// Linux cannot invert such a tuple: no connection.
		r.State, r.Reason = ctstate.Invalid, packet.ReasonICMPUnknownType
		return
	}
	timeout := t.to.icmp
	if !v4 {
		timeout = t.to.icmpv6
	}
	ref, e := f.lookup(t, k, h, now, p.Tuple.Proto)
	if e == nil {
		if role != icmpRequest {
			r.State, r.Reason = ctstate.Invalid, packet.ReasonICMPUnsolicited
			return
		}
		if e = f.newConn(t, now, p, k, h, srcIsB, r); e != nil {
			e.Value.setCreated(now)
			e.Value.setICMPType(ic.Type)
			e.Expires = now + timeout
		}
		return
	}
	dir := dirOf(srcIsB, e.Flags)
	if dir == ctstate.Original && role == icmpReply {
		// A reply travelling the query's way matches neither of Linux's
		// tuples, and a reply cannot start a connection.
		r.State, r.Reason = ctstate.Invalid, packet.ReasonICMPUnsolicited
		return
	}
	r.State, r.Dir, r.ref = packetState(e.Flags, dir), dir, ref
	e.Expires = now + timeout
	if dir == ctstate.Reply {
		e.Flags |= FlagSeenReply
	}
}

// icmpError relates an ICMP error to the connection of the packet it
// quotes (Linux's nf_conntrack_inet_error).
func (f *famTable[K]) icmpError(t *Tracker, now uint32, p *packet.Parsed, _ uint64, r *Result) {
	ic := &p.ICMP
	if !ic.InnerOK {
		r.State, r.Reason = ctstate.Invalid, ic.InnerReason
		if r.Reason == packet.ReasonNone {
			r.Reason = packet.ReasonICMPInnerTruncated
		}
		return
	}
	in := &ic.Inner
	if (in.Proto == packet.ProtoICMP && in.Family == packet.FamilyIPv4) ||
		(in.Proto == packet.ProtoICMPv6 && in.Family == packet.FamilyIPv6) {
		if role := icmpRoleOf(in.Proto, ic.InnerICMPType); role != icmpRequest && role != icmpReply {
			// The quoted ICMP packet's tuple cannot be inverted.
			r.State, r.Reason = ctstate.Invalid, packet.ReasonICMPNoFlow
			return
		}
	}
	f.relate(t, now, p, in, r)
}

// relate finds the connection of the quoted tuple in: RELATED in the
// direction of the inverted quote, INVALID when there is none or when the
// error is not addressed to the quoted packet's sender.
func (f *famTable[K]) relate(t *Tracker, now uint32, p *packet.Parsed, in *packet.Tuple, r *Result) {
	h := f.hashOf(in, t.zone(p))
	k, innerSrcIsB := f.mk(in, t.zone(p))
	ref, e := f.lookup(t, k, h, now, in.Proto)
	if e == nil {
		r.State, r.Reason = ctstate.Invalid, packet.ReasonICMPNoFlow
		return
	}
	// The error travels opposite to the quoted packet: its direction is
	// that of the inverted quoted tuple.
	dir := dirOf(!innerSrcIsB, e.Flags)
	if in.Src == in.Dst && in.SrcPort == in.DstPort {
		dir = ctstate.Original
	}
	if p.Tuple.Dst != in.Src {
		// The error must be addressed to the quoted packet's sender.
		r.State, r.Reason, r.Dir = ctstate.Invalid, packet.ReasonICMPSpoofed, dir
		return
	}
	r.State, r.Dir, r.ref, r.related = ctstate.Related, dir, ref, true
}
