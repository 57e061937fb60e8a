package conntrack

import (
	"encoding/binary"

	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/flowtable"
)

// TCPState is a connection's TCP conntrack state, as Linux names it.
type TCPState uint8

// TCP conntrack states, in the kernel's order (the transition table's columns).
const (
	TCPNone TCPState = iota
	TCPSynSent
	TCPSynRecv
	TCPEstablished
	TCPFinWait
	TCPCloseWait
	TCPLastAck
	TCPTimeWait
	TCPClose
	TCPSynSent2
	NumTCPStates int = iota // the number of TCP states, for arrays indexed by TCPState
)

// Pseudo-states of the transition table: invalid (sIV) and ignore (sIG).
const (
	tcpIV TCPState = 10 + iota
	tcpIG
)

var tcpStateNames = [...]string{
	TCPNone:        "NONE",
	TCPSynSent:     "SYN_SENT",
	TCPSynRecv:     "SYN_RECV",
	TCPEstablished: "ESTABLISHED",
	TCPFinWait:     "FIN_WAIT",
	TCPCloseWait:   "CLOSE_WAIT",
	TCPLastAck:     "LAST_ACK",
	TCPTimeWait:    "TIME_WAIT",
	TCPClose:       "CLOSE",
	TCPSynSent2:    "SYN_SENT2",
	tcpIV:          "INVALID",
	tcpIG:          "IGNORE",
}

// String returns the state as conntrack -L prints it.
func (s TCPState) String() string {
	if int(s) < len(tcpStateNames) {
		return tcpStateNames[s]
	}
	return "UNKNOWN"
}

// tcpIndex is a segment's flag class (Linux's enum tcp_bit_set).
type tcpIndex uint8

// Flag classes, checked in this order: RST, SYN (SYN|ACK), FIN, ACK, none.
const (
	idxSYN tcpIndex = iota
	idxSYNACK
	idxFIN
	idxACK
	idxRST
	idxNone
	numTCPIndex
)

func tcpIndexOf(f uint8) tcpIndex {
	switch {
	case f&packet.TCPRst != 0:
		return idxRST
	case f&packet.TCPSyn != 0:
		if f&packet.TCPAck != 0 {
			return idxSYNACK
		}
		return idxSYN
	case f&packet.TCPFin != 0:
		return idxFIN
	case f&packet.TCPAck != 0:
		return idxACK
	}
	return idxNone
}

// tcpValidFlags lists the valid flag combinations after PSH, ECE and CWR
// are masked off (Linux's tcp_valid_flags).
var tcpValidFlags = func() (v [64]bool) {
	const (
		F, S, R, A, U = packet.TCPFin, packet.TCPSyn, packet.TCPRst, packet.TCPAck, packet.TCPUrg
	)
	for _, f := range []uint8{S, S | U, S | A, R, R | A, F | A, F | A | U, A, A | U} {
		v[f] = true
	}
	return v
}()

const tcpFlagsIgnored = packet.TCPPsh | packet.TCPEce | packet.TCPCwr

// tcpTransitions is Linux's tcp_conntracks table: [dir][flag class][state].
var tcpTransitions = func() (t [2][numTCPIndex][NumTCPStates]TCPState) {
	const (
		sNO, sSS, sSR, sES, sFW, sCW, sLA, sTW, sCL, sS2, sIV, sIG = TCPNone, TCPSynSent, TCPSynRecv,
			TCPEstablished, TCPFinWait, TCPCloseWait, TCPLastAck, TCPTimeWait, TCPClose, TCPSynSent2, tcpIV, tcpIG
	)
	_ = sNO
	t[0] = [numTCPIndex][NumTCPStates]TCPState{
		//           sNO  sSS  sSR  sES  sFW  sCW  sLA  sTW  sCL  sS2
		idxSYN:    {sSS, sSS, sIG, sIG, sIG, sIG, sIG, sSS, sSS, sS2},
		idxSYNACK: {sIV, sIV, sSR, sIV, sIV, sIV, sIV, sIV, sIV, sSR},
		idxFIN:    {sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV},
		idxACK:    {sES, sIV, sES, sES, sCW, sCW, sTW, sTW, sCL, sIV},
		idxRST:    {sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL},
		idxNone:   {sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV},
	}
	t[1] = [numTCPIndex][NumTCPStates]TCPState{
		//           sNO  sSS  sSR  sES  sFW  sCW  sLA  sTW  sCL  sS2
		idxSYN:    {sIV, sS2, sIV, sIV, sIV, sIV, sIV, sSS, sIV, sS2},
		idxSYNACK: {sIV, sSR, sIG, sIG, sIG, sIG, sIG, sIG, sIG, sSR},
		idxFIN:    {sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV},
		idxACK:    {sIV, sIG, sSR, sES, sCW, sCW, sTW, sTW, sCL, sIG},
		idxRST:    {sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL},
		idxNone:   {sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV},
	}
	return t
}()

// Timeout slots beyond the states: the RETRANS and UNACK caps.
const (
	toRetrans = NumTCPStates + iota
	toUnack
	numTCPTimeouts
)

// tcpMaxRetrans is Linux's nf_conntrack_tcp_max_retrans default.
const tcpMaxRetrans = 3

// maxAckWinConst is Linux's MAXACKWINCONST.
const maxAckWinConst = 66000

// tcpAction is what the TCP tracker decided for a segment.
type tcpAction uint8

const (
	tcpAccept    tcpAction = iota // in window: state updated, refresh with the timeout
	tcpNoRefresh                  // accepted and updated, timer untouched (retransmitted SYN)
	tcpIgnore                     // accepted, nothing changed (Linux "ignored")
	tcpInvalid                    // INVALID
	tcpKill                       // accepted; delete the entry now (RST before any reply)
	tcpReopen                     // delete the entry and track the packet as a new connection
)

// tcpConfig is the TCP tracker's configuration.
type tcpConfig struct {
	loose, beLiberal bool
	timeouts         [numTCPTimeouts]uint32 // milliseconds
}

// tcpSeg is one segment's fields as the tracker reads them.
type tcpSeg struct {
	seq, ack, end uint32
	win           uint16
	flags         uint8
	index         tcpIndex
	opts          []byte // the TCP options (for the SACK blocks)
}

// readSeg fills s from p. It writes s in place: a segment assembled in
// a temporary and copied whole stalls on store forwarding.
func readSeg(p *packet.Parsed, s *tcpSeg) {
	t := &p.TCP
	fillSeg(s, t.Seq, t.Ack, t.Window, t.Flags, p.PayloadLen)
	s.opts = tcpOpts(p)
}

// fillSeg sets a segment's header fields and computes its end.
func fillSeg(s *tcpSeg, seq, ack uint32, win uint16, flags uint8, payload uint16) {
	s.seq, s.ack, s.win, s.flags, s.index = seq, ack, win, flags, tcpIndexOf(flags)
	s.end = seq + uint32(payload) + uint32(flags&packet.TCPSyn)>>1 + uint32(flags&packet.TCPFin)
}

// synOptions reads the window scale (as sent) and SACK-permitted options
// of the segment (a SYN's, the only ones the tracker reads).
func (s *tcpSeg) synOptions() (wscale uint8, hasWScale, sackPerm bool) {
	var info packet.TCPInfo
	packet.ParseTCPOptions(s.opts, &info)
	return info.WScale, info.HasWScale, info.SACKPerm
}

// tcpOpts returns the TCP options of p (nil when there are none or the
// header is not all in the frame).
func tcpOpts(p *packet.Parsed) []byte {
	hl := int(p.TCP.HeaderLen)
	start := int(p.L4Off) + 20
	if hl <= 20 || start+hl-20 > len(p.Frame) {
		return nil
	}
	return p.Frame[start : start+hl-20]
}

func before(a, b uint32) bool { return int32(a-b) < 0 }
func after(a, b uint32) bool  { return int32(b-a) < 0 }

// timestampOnly reports whether the TCP options o are the common layout
// of a timestamp alone (NOP, NOP, timestamp), which has no SACK block.
func timestampOnly(o []byte) bool {
	return len(o) == 12 && binary.BigEndian.Uint32(o) == 0x0101080a
}

// tcpCheckFlags is Linux's tcp_error flag check.
func tcpCheckFlags(f uint8) bool { return tcpValidFlags[f&^tcpFlagsIgnored&63] }

// tcpNewState is the state a first packet would create (tcpIV if none).
func (cfg *tcpConfig) newState(seg *tcpSeg) TCPState {
	s := tcpTransitions[0][seg.index][TCPNone]
	if s == TCPEstablished && !cfg.loose {
		return tcpIV
	}
	return s
}

// initNew is Linux's tcp_new: it sets up a zeroed Conn from a first packet
// that newState accepted.
func (cfg *tcpConfig) initNew(c *Conn, seg *tcpSeg) {
	win := uint32(seg.win)
	if win == 0 {
		win = 1
	}
	c.w[0] = seg.end
	c.setMaxWin(0, win)
	if seg.index == idxSYN {
		c.setMaxEnd(0, seg.end)
		tcpOptions(c, 0, seg)
	} else {
		c.setMaxEnd(0, seg.end+win)
		// Picked up mid-stream: assume SACK and be liberal in both
		// directions (the window scale is unknown).
		c.setFlags(0, dfSACKPerm|dfLiberal)
		c.setFlags(1, dfSACKPerm|dfLiberal)
	}
	c.setLast(idxNone, 0)
	c.misc = miscLastWinZero // last_win starts at 0, as in Linux
}

// tcpOptions reads the window scale and SACK-permitted options of a SYN
// into direction d (Linux's tcp_options: only when options are present).
func tcpOptions(c *Conn, d int, seg *tcpSeg) {
	if len(seg.opts) == 0 {
		return
	}
	ws, hasWS, sackPerm := seg.synOptions()
	f := c.flags(d) & dfLiberal
	var s uint8
	if sackPerm {
		f |= dfSACKPerm
	}
	if hasWS {
		f |= dfWScale
		s = min(ws, 14)
	}
	c.setFlags(d, f)
	c.setTDScale(d, s)
}

// scanSACK returns the highest right edge of the SACK blocks in the TCP
// options o after sack (Linux's tcp_sack).
func scanSACK(o []byte, sack uint32) uint32 {
	if timestampOnly(o) {
		return sack
	}
	for i := 0; i < len(o); {
		switch o[i] {
		case 0:
			return sack
		case 1:
			i++
			continue
		}
		if i+2 > len(o) {
			return sack
		}
		n := int(o[i+1])
		if n < 2 || i+n > len(o) {
			return sack
		}
		if o[i] == 5 && n >= 10 && (n-2)%8 == 0 {
			for j := i + 2; j+8 <= i+n; j += 8 {
				if e := binary.BigEndian.Uint32(o[j+4:]); after(e, sack) {
					sack = e
				}
			}
			return sack
		}
		i += n
	}
	return sack
}

// tcpCtx is what the TCP tracker reads and writes besides the Conn: the
// entry's status flags and expiry.
type tcpCtx struct {
	flags   *uint8
	expires *uint32
	now     uint32
}

// packet is Linux's nf_conntrack_tcp_packet for a packet of an existing
// (or just created) connection in direction dir. It returns the action,
// the timeout for tcpAccept, and the drop reason for tcpInvalid.
func (cfg *tcpConfig) packet(c *Conn, x tcpCtx, dir int, seg *tcpSeg) (tcpAction, uint32, packet.DropReason) {
	old := c.tcpState()
	idx := seg.index
	ns := tcpTransitions[dir][idx][old]
	seenReply := *x.flags&FlagSeenReply != 0
	assured := *x.flags&flowtable.FlagAssured != 0

	switch ns {
	case TCPSynSent:
		if old < TCPTimeWait {
			break
		}
		// A SYN re-opening a closed or aborted connection: forget the old one.
		if (c.flags(0)|c.flags(1))&dfCloseInit != 0 || (c.lastDir() == dir && c.lastIndex() == idxRST) {
			return tcpReopen, 0, 0
		}
		return cfg.ignore(c, old, dir, seg)
	case tcpIG:
		if idx == idxSYNACK && c.lastIndex() == idxSYN && c.lastDir() != dir && fp16(seg.ack) == c.lastEnd {
			// This SYN/ACK answers a SYN we ignored: both ends are in
			// sync, we are not. Take the ignored SYN's values.
			ld := c.lastDir()
			lastWin := uint32(c.lag[ld])
			if lastWin == 0 {
				lastWin = 1
			}
			old, ns = TCPSynSent, TCPSynRecv
			f := uint8(0)
			if c.misc&miscLastWS != 0 {
				f |= dfWScale
			}
			if c.misc&miscLastSACKPerm != 0 {
				f |= dfSACKPerm
			}
			c.misc &^= miscChallenge
			c.setFlags(ld, f)
			c.setFlags(dir, c.flags(dir)&dfLiberal)
			c.w[ld] = seg.ack
			c.setMaxEnd(ld, seg.ack)
			c.setMaxWin(ld, lastWin)
			c.setTDScale(ld, c.lastWscale())
			c.w[dir], c.w[2+dir], c.w[4+dir] = 0, 0, 0
			c.setTDScale(dir, 0)
			break
		}
		return cfg.ignore(c, old, dir, seg)
	case tcpIV:
		return tcpInvalid, 0, packet.ReasonTCPInvalidState
	case TCPTimeWait:
		// An RFC 5961 challenge ACK answering a SYN ignored in LAST_ACK
		// does not ack the last FIN.
		if old == TCPLastAck && idx == idxACK && c.lastDir() != dir && c.lastIndex() == idxSYN &&
			c.misc&miscChallenge != 0 {
			c.misc &^= miscChallenge
			return tcpIgnore, 0, 0
		}
	case TCPSynSent2:
		c.misc |= miscSimOpen
	case TCPSynRecv:
		if dir == 1 && idx == idxACK && c.misc&miscSimOpen != 0 {
			ns = TCPEstablished
		}
	case TCPClose:
		if idx != idxRST {
			break
		}
		if closing(old) {
			// The tuple may be reused already; skip the checks.
			return cfg.inWindowDone(c, x, old, ns, dir, seg, seenReply, assured)
		}
		r := 1 - dir
		if c.flags(r)&dfMaxAck != 0 && c.lastIndex() != idxSYN {
			established := old == TCPEstablished && assured
			seq := seg.seq
			if seq == 0 && !established {
				break
			}
			maxAck := c.maxAck(r)
			if before(seq, maxAck) {
				return tcpInvalid, 0, packet.ReasonTCPInvalidRST
			}
			if !established || seq == maxAck {
				break
			}
			// A RST right after the sender's last data segment.
			if c.lastIndex() == idxACK && c.lastDir() == dir && fp16(seq) == c.lastEnd {
				break
			}
			// Inexact: keep the state, allowing a challenge ACK.
			ns = old
		}
		if ((seenReply && c.lastIndex() == idxSYN) || (!assured && c.lastIndex() == idxACK)) &&
			fp16(seg.ack) == c.lastEnd {
			// RST answering a SYN or ACK we let through: no window check.
			return cfg.inWindowDone(c, x, old, ns, dir, seg, seenReply, assured)
		}
		if old == TCPSynSent && c.lastIndex() == idxACK && c.lastDir() == 1 &&
			seg.seq == uint32(c.lag[0])<<16|uint32(c.lag[1]) {
			// RST answering a challenge ACK we let through.
			return cfg.inWindowDone(c, x, old, ns, dir, seg, seenReply, assured)
		}
	}

	switch res, reason := cfg.inWindow(c, old, dir, seg); res {
	case tcpIgnore:
		return tcpIgnore, 0, 0
	case tcpInvalid:
		cfg.handleInvalid(c, x, dir, idx, assured)
		return tcpInvalid, 0, reason
	}
	return cfg.inWindowDone(c, x, old, ns, dir, seg, seenReply, assured)
}

// ignore annotates an ignored packet (Linux's TCP_CONNTRACK_IGNORE case) so
// that a later SYN/ACK or RST can be matched against it.
func (cfg *tcpConfig) ignore(c *Conn, old TCPState, dir int, seg *tcpSeg) (tcpAction, uint32, packet.DropReason) {
	c.setLast(seg.index, dir)
	c.lastEnd = fp16(seg.end)
	if seg.win == 0 {
		c.misc |= miscLastWinZero
	} else {
		c.misc &^= miscLastWinZero
	}
	c.rfp = ^segFP(dir, seg.seq, 0, seg.end, seg.win)
	if seg.index == idxSYN {
		// Keep the SYN's window for a resync; the direction's
		// td_maxack is given up for it.
		c.lag[dir] = seg.win
		c.df[dir] &^= dfMaxAck
	}
	if seg.index == idxSYN && dir == 0 {
		c.misc &^= miscLastWS | miscLastSACKPerm | miscChallenge | miscSimOpen
		var ws uint8
		if len(seg.opts) > 0 {
			w, hasWS, sackPerm := seg.synOptions()
			if hasWS {
				c.misc |= miscLastWS
				ws = min(w, 14)
			}
			if sackPerm {
				c.misc |= miscLastSACKPerm
			}
		}
		c.setLastWscale(ws)
		if old == TCPLastAck {
			c.misc |= miscChallenge
		}
	}
	if old == TCPSynSent && seg.index == idxACK && dir == 1 {
		// A possible challenge ACK answering the SYN: keep its ack.
		c.lag[0], c.lag[1] = uint16(seg.ack>>16), uint16(seg.ack)
	}
	return tcpIgnore, 0, 0
}

// inWindowDone is the end of nf_conntrack_tcp_packet for an accepted
// packet: the new state, CLOSE_INIT, the timeout and ASSURED.
func (cfg *tcpConfig) inWindowDone(c *Conn, x tcpCtx, old, ns TCPState, dir int, seg *tcpSeg, seenReply, assured bool) (tcpAction, uint32, packet.DropReason) {
	c.st = uint8(ns)&0x0f | uint8(seg.index)<<4 | uint8(dir)<<7 // the state and setLast in one write
	if old != ns && ns == TCPFinWait {
		c.df[dir] |= dfCloseInit
	}
	to := &cfg.timeouts
	var timeout uint32
	switch {
	case c.retrans() >= tcpMaxRetrans && to[ns] > to[toRetrans]:
		timeout = to[toRetrans]
	case seg.index == idxRST:
		timeout = to[TCPClose]
	case (c.flags(0)|c.flags(1))&dfDataUnack != 0 && to[ns] > to[toUnack]:
		timeout = to[toUnack]
	case c.misc&miscLastWinZero != 0 && to[ns] > to[toRetrans]:
		timeout = to[toRetrans]
	default:
		timeout = to[ns]
	}
	if !seenReply {
		if seg.flags&packet.TCPRst != 0 {
			// The only answer is a RST: no connection to keep.
			return tcpKill, 0, 0
		}
		if seg.index == idxSYN && old == TCPSynSent {
			// A retransmitted SYN does not renew the timer.
			return tcpNoRefresh, 0, 0
		}
		if ns == TCPEstablished && timeout > to[toUnack] {
			// Picked up mid-stream and never answered.
			timeout = to[toUnack]
		}
	} else if !assured && (old == TCPSynRecv || old == TCPEstablished) && ns == TCPEstablished {
		*x.flags |= flowtable.FlagAssured
	}
	return tcpAccept, timeout, 0
}

// handleInvalid is Linux's nf_tcp_handle_invalid: an out-of-window FIN or
// RST on an assured connection shortens its timeout when the peer already
// sent a FIN or RST.
func (cfg *tcpConfig) handleInvalid(c *Conn, x tcpCtx, dir int, idx tcpIndex, assured bool) {
	if !assured || (idx != idxRST && idx != idxFIN) {
		return
	}
	if c.lastDir() != dir && (c.lastIndex() == idxFIN || c.lastIndex() == idxRST) {
		left := *x.expires - x.now
		if int32(left) <= 0 || left < 120000 {
			return
		}
		if unack := cfg.timeouts[toUnack]; left > unack {
			*x.expires = x.now + unack
		}
		return
	}
	c.setLast(idx, dir)
}

// initSender is Linux's tcp_init_sender: a SYN or SYN/ACK (re)starts the
// sender's window.
func initSender(c *Conn, s int, end, win uint32, seg *tcpSeg) {
	c.setEnd(s, end)
	c.setMaxEnd(s, end)
	if win == 0 {
		win = 1
	}
	c.setMaxWin(s, win)
	tcpOptions(c, s, seg)
	r := 1 - s
	if s == 1 && !(c.flags(s)&dfWScale != 0 && c.flags(r)&dfWScale != 0) {
		c.setTDScale(s, 0)
		c.setTDScale(r, 0)
	}
}

// inWindow is Linux's tcp_in_window: Guido van Rooij's window checks I-IV
// and the window bookkeeping. It returns tcpAccept, tcpIgnore or tcpInvalid.
func (cfg *tcpConfig) inWindow(c *Conn, state TCPState, dir int, seg *tcpSeg) (tcpAction, packet.DropReason) {
	s, r := dir, 1-dir
	seq, ack, end := seg.seq, seg.ack, seg.end
	sack := ack
	win := uint32(seg.win)
	syn := seg.flags&packet.TCPSyn != 0
	hasAck := seg.flags&packet.TCPAck != 0

	if c.flags(r)&dfSACKPerm != 0 {
		sack = scanSACK(seg.opts, sack)
	}

	if c.maxWin(s) == 0 {
		if syn {
			initSender(c, s, end, win, seg)
			if !hasAck {
				// Simultaneous open.
				return tcpAccept, 0
			}
		} else {
			// Mid-stream: its history is lost; use this packet.
			c.setEnd(s, end)
			swin := win << c.tdScale(s)
			if swin == 0 {
				swin = 1
			}
			c.setMaxWin(s, swin)
			c.setMaxEnd(s, end+swin)
			if c.maxWin(r) == 0 {
				c.setEnd(r, sack)
				c.setMaxEnd(r, sack)
			} else if sack == c.end(r)+1 {
				// Likely a reply to a keepalive.
				c.setEnd(r, c.end(r)+1)
			}
		}
	} else if syn && after(end, c.end(s)) && (state == TCPSynSent || state == TCPSynRecv) {
		// A re-sent SYN (or SYN/ACK) with a higher sequence number
		// restarts this direction's window.
		initSender(c, s, end, win, seg)
		if dir == 1 && !hasAck {
			return tcpAccept, 0
		}
	}

	if !hasAck || (seg.flags&packet.TCPRst != 0 && ack == 0) {
		// No ACK (or a broken stack's RST|ACK with ack 0): pretend it is fine.
		ack, sack = c.end(r), c.end(r)
	}
	if seg.flags&packet.TCPRst != 0 && seq == 0 && state == TCPSynSent {
		// A RST answering the SYN.
		seq, end = c.end(s), c.end(s)
	}

	maxAckWin := max(c.maxWin(s), maxAckWinConst)
	if !before(seq, c.maxEnd(s)+1) {
		overshot := end - c.maxEnd(s) + 1
		ackOK := after(sack, c.end(r)-maxAckWin-1)
		inRecv := c.maxWin(r) != 0 && after(end, c.end(s)-c.maxWin(r)-1)
		if inRecv && ackOK && overshot <= c.maxWin(r) && before(sack, c.end(r)+1) {
			// A sender overshooting the window by less than a window:
			// ignore it, but let the peer's ACK of it pass later.
			c.setEnd(s, end)
			c.df[s] |= dfDataUnack
			return cfg.windowFailure(c, s, tcpIgnore, 0)
		}
		return cfg.windowFailure(c, s, tcpInvalid, packet.ReasonTCPOutOfWindow)
	}
	if !before(sack, c.end(r)+1) {
		// ACK is over the upper bound (acks data not seen yet).
		return cfg.windowFailure(c, s, tcpInvalid, packet.ReasonTCPOutOfWindow)
	}
	if c.maxWin(r) != 0 && !after(end, c.end(s)-c.maxWin(r)-1) {
		// SEQ under the lower bound: already ACKed data retransmitted.
		return cfg.windowFailure(c, s, tcpIgnore, 0)
	}
	if !after(sack, c.end(r)-maxAckWin-1) {
		// ACK under the lower bound: an overly delayed ACK.
		return cfg.windowFailure(c, s, tcpIgnore, 0)
	}

	if !syn {
		win <<= c.tdScale(s)
	}
	if swin := win + (sack - ack); c.maxWin(s) < swin {
		c.setMaxWin(s, swin)
	}
	if after(end, c.end(s)) {
		c.setEnd(s, end)
		c.df[s] |= dfDataUnack
	}
	if hasAck {
		if c.df[s]&dfMaxAck == 0 || after(ack, c.maxAck(s)) {
			c.setMaxAck(s, ack)
		}
	}
	if c.maxWin(r) != 0 && after(end, c.maxEnd(s)) {
		c.setMaxWin(r, c.maxWin(r)+end-c.maxEnd(s))
	}
	if after(sack+win, c.maxEnd(r)-1) {
		c.setMaxEnd(r, sack+win)
		if win == 0 {
			c.setMaxEnd(r, sack+win+1)
		}
	}
	if ack == c.end(r) {
		c.df[r] &^= dfDataUnack
	}
	if seg.index == idxACK {
		fp := segFP(dir, seq, ack, end, seg.win)
		if c.lastDir() == dir && c.rfp == fp {
			if c.retrans() < miscRetrans {
				c.misc++
			}
		} else {
			c.setLast(c.lastIndex(), dir)
			c.rfp = fp
			c.lastEnd = fp16(end)
			// One write: back-to-back read-modify-writes of one byte
			// wait on each other's stores.
			m := c.misc &^ (miscLastWinZero | miscRetrans)
			if seg.win == 0 {
				m |= miscLastWinZero
			}
			c.misc = m
		}
	}
	return tcpAccept, 0
}

// windowFailure is Linux's nf_tcp_log_invalid: be_liberal (global or for
// this direction) accepts the packet.
func (cfg *tcpConfig) windowFailure(c *Conn, s int, a tcpAction, r packet.DropReason) (tcpAction, packet.DropReason) {
	if cfg.beLiberal || c.flags(s)&dfLiberal != 0 {
		return tcpAccept, 0
	}
	return a, r
}
