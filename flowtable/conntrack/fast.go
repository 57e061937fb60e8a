package conntrack

import (
	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/flowtable"
	"github.com/statewall/statewall/flowtable/ctstate"
)

// The fast path takes the most common packets, a segment of a replied
// IPv4 TCP connection read by packet.ParseTCP4 and a datagram of a replied
// IPv4 UDP connection read by packet.ParseUDP4, without a packet.Parsed.
// In the burst's passes: BeginTCP4 or BeginUDP4 (prefetch the bucket
// address it returns), Candidate4 (prefetch the entry address), then
// TrackEstablished4 or TrackEstablishedUDP4, which find the connection
// and, when it is one the fast path may take, track the packet with
// Track's own code for an existing connection. What they decline
// (FastDeclined) they leave unchanged, and Track takes it.

// Established4 is a packet's lookup and the connection TrackEstablished4
// or TrackEstablishedUDP4 found for it.
type Established4 struct {
	k      flowtable.Key4
	srcIsB bool
	hash   uint64
	hint   flowtable.Hint

	ref flowtable.Ref
	e   *Entry4
	dir ctstate.Dir
}

// Hash is the packet's Hash (for Track, when the fast path declines it).
func (x *Established4) Hash() uint64 { return x.hash }

// Dir is the packet's direction in the connection.
func (x *Established4) Dir() ctstate.Dir { return x.dir }

// Cache is the connection's verdict-cache word (see VerdictCache).
func (x *Established4) Cache() *uint32 { return &x.e.Value.Cache }

// The fast path's functions are written out flat, each calling only
// functions cheap enough to inline anywhere: the pipeline inlines them
// (its profile says they are hot), but a call they make to a larger
// helper stays a call there, whatever the profile says, and a call per
// packet costs the daemon 5-10% (a shared begin4 and findReplied4 did).

// BeginTCP4 starts the lookup of the connection of s, which
// packet.ParseTCP4 read, and returns the address of its index bucket.
// The key is that of an untagged packet (conntrack zone 0).
func (t *Tracker) BeginTCP4(s *packet.TCP4, x *Established4) uintptr {
	x.k, x.srcIsB = flowtable.MakeKey4Addr(s.Src, s.Dst, s.SrcPort, s.DstPort, packet.ProtoTCP, 0)
	x.hash = x.k.Hash()
	t.t4.tb.Begin(x.hash, &x.hint)
	return t.t4.tb.BucketAddr(&x.hint)
}

// BeginUDP4 is BeginTCP4 for a datagram packet.ParseUDP4 read.
func (t *Tracker) BeginUDP4(s *packet.UDP4, x *Established4) uintptr {
	x.k, x.srcIsB = flowtable.MakeKey4Addr(s.Src, s.Dst, s.SrcPort, s.DstPort, packet.ProtoUDP, 0)
	x.hash = x.k.Hash()
	t.t4.tb.Begin(x.hash, &x.hint)
	return t.t4.tb.BucketAddr(&x.hint)
}

// Candidate4 reads the index bucket of x's lookup and returns the address
// of the entry it most likely finds (0: none).
func (t *Tracker) Candidate4(x *Established4) uintptr { return t.t4.tb.ReadBucket(&x.hint) }

// FastOutcome is what the fast path's Track functions did with a packet.
type FastOutcome uint8

const (
	// FastDeclined: not a packet the fast path takes; nothing changed,
	// and Track takes it.
	FastDeclined FastOutcome = iota
	// FastEstablished: tracked, ESTABLISHED in direction Dir(). The
	// Result was not written (Result writes what Track would have): not
	// writing it is 2% of the pipeline's time at 10k flows.
	FastEstablished
	// FastTracked: tracked by Track's own code for the connection (a
	// segment other than a plain ACK, or one outside the window),
	// ESTABLISHED; the Result holds Track's.
	FastTracked
	// FastInvalid: tracked, INVALID; the Result holds Track's.
	FastInvalid
	// FastCall: nothing changed, and what the packet needs takes a call
	// (TrackEstablished4 makes none): TrackEstablishedCall4 takes it
	// (TrackEstablishedCall6 what TrackEstablished6 leaves).
	FastCall
	// FastCallFound is FastCall for a packet whose connection
	// TrackEstablished4 found (a handshake's segment, a FIN, SACK blocks):
	// TrackEstablishedCall4 does not look it up again.
	FastCallFound
)

// TrackEstablished4 finishes the lookup BeginTCP4 started for s, read
// from frame, and tracks s as Track would when the fast path takes it:
// s carries valid flags, and its connection exists, has not expired, has
// seen a reply (so s is ESTABLISHED unless the TCP tracker makes it
// INVALID), has no ALG helper (Confirm has nothing to do), and is not one
// a SYN could reopen (a SYN is taken only in the ESTABLISHED TCP state,
// where it is ignored or INVALID).
//
// It calls nothing, so that it keeps its values in registers (a call
// anywhere in it spills them all on every packet); what takes a call it
// leaves unchanged and returns FastCall (FastCallFound when it found the
// connection) for: TrackEstablishedCall4 takes the segment then.
func (t *Tracker) TrackEstablished4(now uint32, s *packet.TCP4, frame []byte, x *Established4) FastOutcome {
	if !tcpCheckFlags(s.Flags) {
		return FastDeclined
	}
	ref, e := t.t4.tb.CandidateEntry(x.k, &x.hint)
	if e == nil {
		return FastCall // not the lookup's candidate: a lookup finds it
	}
	if !fastTakes(e.Expires, e.Flags, now) || !e.Value.takesSegment(s.Flags) {
		return FastDeclined
	}
	x.ref, x.e, x.dir = ref, e, dirOf(x.srcIsB, e.Flags)
	dir := int(x.dir)
	if hl := int(s.HeaderLen); hl > packet.TCPMinSize && e.Value.df[1-dir&1]&dfSACKPerm != 0 &&
		!timestampOnly(frame[packet.TCP4Off+packet.TCPMinSize:packet.TCP4Off+hl]) {
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

// TrackEstablishedCall4 is TrackEstablished4 with the calls: it looks the
// connection up, scans the SACK blocks, and tracks a segment other than
// an in-window plain ACK with Track's own code. It takes any segment
// TrackEstablished4 may take (for which that returned FastCall, say), and
// never returns FastCall or FastCallFound. out is what TrackEstablished4
// returned for s (FastCall where it did not run): with FastCallFound the
// connection is x's already.
//
//go:noinline
func (t *Tracker) TrackEstablishedCall4(now uint32, s *packet.TCP4, frame []byte, x *Established4, r *Result, out FastOutcome) FastOutcome {
	if out != FastCallFound {
		if !tcpCheckFlags(s.Flags) {
			return FastDeclined
		}
		ref, e := t.t4.tb.FindHint(x.k, &x.hint)
		if e == nil || !fastTakes(e.Expires, e.Flags, now) || !e.Value.takesSegment(s.Flags) {
			return FastDeclined
		}
		x.ref, x.e, x.dir = ref, e, dirOf(x.srcIsB, e.Flags)
	}
	var opts []byte
	if hl := int(s.HeaderLen); hl > packet.TCPMinSize {
		opts = frame[packet.TCP4Off+packet.TCPMinSize : packet.TCP4Off+hl]
	}
	return trackFound(t, &t.t4, now, x.ref, x.e, x.dir, s.Flags, s.Seq, s.Ack, s.PayloadLen, s.Window, opts, r)
}

// trackFound is the Call forms' tracking of a segment (flags, seq, ack,
// payload and window as on the wire, its TCP options opts) of the
// connection they found, e at ref, in direction dir: ackEstablished's
// way for an in-window plain ACK, Track's own code for the rest.
func trackFound[K key](t *Tracker, f *famTable[K], now uint32, ref flowtable.Ref, e *flowtable.Entry[K, Conn], dir ctstate.Dir,
	flags uint8, seq, ack uint32, payload, window uint16, opts []byte, r *Result) FastOutcome {
	t.now = now
	d := int(dir)
	if timeout, ok := t.tcp.ackEstablished(&e.Value, e.Flags, d, flags, seq, ack, payload, window, sackOf(&e.Value, d, opts, ack)); ok {
		ackAccepted(&e.Flags, &e.Expires, now, timeout, d)
		return FastEstablished
	}
	var seg tcpSeg
	fillSeg(&seg, seq, ack, window, flags, payload)
	seg.opts = opts
	return f.tcpFast(t, now, ref, e, dir, &seg, r)
}

// TrackEstablishedUDP4 is TrackEstablished4 for a datagram BeginUDP4
// began: it tracks the datagram when its connection exists, has not
// expired, has seen a reply and has no ALG helper, and reports whether it
// did (FastEstablished, the only outcome but FastDeclined).
func (t *Tracker) TrackEstablishedUDP4(now uint32, x *Established4) FastOutcome {
	ref, e := t.t4.tb.FindHint(x.k, &x.hint)
	if e == nil || !fastTakes(e.Expires, e.Flags, now) {
		return FastDeclined
	}
	x.ref, x.e, x.dir = ref, e, dirOf(x.srcIsB, e.Flags)
	t.now = now
	udpExisting(t, now, &e.Flags, &e.Expires, &e.Value, x.dir)
	return FastEstablished
}

// fastTakes reports whether the fast path takes packets of a connection
// whose entry expires at expires and has flags: it has not expired, has
// seen a reply and has no ALG helper.
func fastTakes(expires uint32, flags uint8, now uint32) bool {
	return !flowtable.Expired(expires, now) && flags&(FlagSeenReply|FlagHelper) == FlagSeenReply
}

// takesSegment reports whether the fast path takes a segment with flags
// on c: not a SYN but in the ESTABLISHED state (where it is ignored or
// INVALID), which could reopen the connection.
func (c *Conn) takesSegment(flags uint8) bool {
	return flags&packet.TCPSyn == 0 || c.tcpState() == TCPEstablished
}

// ackAccepted is what tcpExisting does after packet accepts a segment
// ackEstablished took: the expiry, and the flags. A reply sets
// FlagSeenReply, without a branch on the direction (random from one
// packet to the next).
func ackAccepted(flags *uint8, expires *uint32, now, timeout uint32, dir int) {
	*expires = now + timeout
	*flags = *flags&^flowtable.FlagClosing | flowtable.FlagAssured | FlagSeenReply*uint8(dir&1)
}

// Result writes to r what Track writes for a packet the fast path found
// ESTABLISHED (FastEstablished).
func (x *Established4) Result(r *Result) {
	*r = fastResult(packet.FamilyIPv4, x.k.Proto(), x.dir, x.ref)
}

func fastResult(fam packet.Family, proto uint8, dir ctstate.Dir, ref flowtable.Ref) Result {
	r := Result{State: ctstate.Established, Dir: dir, fam: fam, proto: proto, ref: ref}
	if proto == packet.ProtoTCP {
		r.TCPState = TCPEstablished
	}
	return r
}

// tcpFast is tcpExisting for a segment the fast path found and
// ackEstablished declined, with its outcome. It is never inlined: it is
// rare, and inlined it would take registers from the common way.
//
//go:noinline
func (f *famTable[K]) tcpFast(t *Tracker, now uint32, ref flowtable.Ref, e *flowtable.Entry[K, Conn], dir ctstate.Dir, seg *tcpSeg, r *Result) FastOutcome {
	*r = Result{fam: f.fam, proto: packet.ProtoTCP}
	f.tcpExisting(t, now, ref, e, dir, seg, r)
	if r.State == ctstate.Invalid {
		t.stats.invalid[r.Reason]++
		return FastInvalid
	}
	return FastTracked
}

// ackEstablished is packet for the commonest segment: a plain ACK (no
// SYN, FIN or RST) of an ESTABLISHED, replied connection that passes the
// window checks. It makes the same changes to c as packet, reading and
// writing each of c's fields once, and returns packet's timeout. For any
// other segment it changes nothing and reports false: packet decides.
//
// sack is the segment's ACK raised to its highest SACK edge when the
// receiver allowed SACK (sackOf): the caller scans the options, so that
// this function calls nothing and keeps its values in registers.
func (cfg *tcpConfig) ackEstablished(c *Conn, flags uint8, dir int, segFlags uint8, seq, ack uint32, payload, segWin uint16, sack uint32) (timeout uint32, ok bool) {
	// A plain ACK: tcpIndexOf's idxACK.
	if segFlags&(packet.TCPRst|packet.TCPSyn|packet.TCPFin|packet.TCPAck) != packet.TCPAck ||
		c.tcpState() != TCPEstablished || flags&FlagSeenReply == 0 {
		return 0, false
	}
	// Masked, so that the compiler drops the bounds checks.
	s := uint(dir) & 1
	r := s ^ 1
	end := seq + uint32(payload)
	endS, endR := c.w[s], c.w[r]
	maxEndS, maxEndR := c.w[2+s], c.w[2+r]
	maxWinS, maxWinR := c.w[4+s], c.w[4+r]
	dfS, dfR := c.df[s], c.df[r]
	if maxWinS == 0 {
		return 0, false // the sender's window is not known yet
	}
	// inWindow's checks; a segment failing one takes packet's way.
	maxAckWin := max(maxWinS, maxAckWinConst)
	if !before(seq, maxEndS+1) || !before(sack, endR+1) ||
		(maxWinR != 0 && !after(end, endS-maxWinR-1)) || !after(sack, endR-maxAckWin-1) {
		return 0, false
	}

	// inWindow's updates.
	win := uint32(segWin) << (c.scale >> (4 * s) & 0x0f) // tdScale
	maxWinS = max(maxWinS, win+(sack-ack))
	if after(end, endS) {
		if dfR&dfMaxAck != 0 { // setEnd
			c.lag[r] = clampLag(int64(c.lag[r]) + int64(int32(end-endS)))
		}
		endS = end
		dfS |= dfDataUnack
	}
	if dfS&dfMaxAck == 0 || after(ack, endR-uint32(c.lag[s])) { // setMaxAck
		c.lag[s] = clampLag(int64(int32(endR - ack)))
		dfS |= dfMaxAck
	}
	if maxWinR != 0 && after(end, maxEndS) {
		maxWinR += end - maxEndS
	}
	if after(sack+win, maxEndR-1) {
		maxEndR = sack + win
		if win == 0 {
			maxEndR++
		}
	}
	if ack == endR {
		dfR &^= dfDataUnack
	}
	c.w[s], c.w[2+r], c.w[4+s], c.w[4+r] = endS, maxEndR, maxWinS, maxWinR
	c.df[s], c.df[r] = dfS, dfR
	misc := c.misc
	if fp := segFP(dir, seq, ack, end, segWin); c.lastDir() == dir && c.rfp == fp {
		if misc&miscRetrans < miscRetrans {
			misc++
		}
	} else {
		c.rfp = fp
		c.lastEnd = fp16(end)
		misc &^= miscLastWinZero | miscRetrans
		if segWin == 0 {
			misc |= miscLastWinZero
		}
	}
	c.misc = misc
	// inWindowDone's: the state and the last segment, then the timeout.
	c.st = uint8(TCPEstablished) | uint8(idxACK)<<4 | uint8(dir)<<7
	to := &cfg.timeouts
	switch timeout = to[TCPEstablished]; {
	case misc&miscRetrans >= tcpMaxRetrans && timeout > to[toRetrans]:
		timeout = to[toRetrans]
	case (dfS|dfR)&dfDataUnack != 0 && timeout > to[toUnack]:
		timeout = to[toUnack]
	case misc&miscLastWinZero != 0 && timeout > to[toRetrans]:
		timeout = to[toRetrans]
	}
	return timeout, true
}

// sackOf is the ACK of seg (in direction dir of c) as inWindow reads it:
// raised to the highest SACK edge when the receiver allowed SACK.
func sackOf(c *Conn, dir int, opts []byte, ack uint32) uint32 {
	if len(opts) != 0 && c.df[1-dir&1]&dfSACKPerm != 0 {
		return scanSACK(opts, ack)
	}
	return ack
}
