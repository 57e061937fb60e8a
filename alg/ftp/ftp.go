// Package ftp is the FTP application-layer gateway: it reads the control
// connection's PORT and EPRT commands and 227 (PASV) and 229 (EPSV)
// replies, and stores an expectation for each announced data connection
// so that its first packet is RELATED, with Linux nf_conntrack_ftp's
// parsing rules, sequence tracking, partial-match drops and FTP bounce
// protection.
package ftp

import (
	"encoding/binary"
	"time"

	"github.com/statewall/statewall/alg"
	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/flowtable/ctstate"
)

// HelperName is the helper's name, as config and metrics spell it.
const HelperName = "ftp"

// DefaultPort is the control port the helper is bound to by default.
const DefaultPort = 21

// Defaults, as Linux's FTP helper policy has them.
const (
	DefaultMaxExpected = 1                 // expectations per control connection
	DefaultTimeout     = 300 * time.Second // an expectation's lifetime
)

// maxTimeout keeps expiry comparisons on the wrapping millisecond clock
// valid.
const maxTimeout = (1<<31 - 1) * time.Millisecond

// Config tunes the helper.
type Config struct {
	// MaxExpected bounds the expectations one control connection holds at
	// once; a new one replaces the oldest. 0 means DefaultMaxExpected.
	MaxExpected int
	// Timeout is how long an expectation waits for its data connection.
	// 0 means DefaultTimeout; it is capped at about 24 days.
	Timeout time.Duration
}

var _ alg.Helper = (*Helper)(nil)

// Helper is the FTP helper. It holds no per-connection state of its own
// (that lives in each connection's alg.ConnState), so one Helper serves
// every worker; it is safe for concurrent use.
type Helper struct {
	x           *alg.Expectations
	maxExpected int
	timeout     uint32 // milliseconds
}

// New returns an FTP helper that stores its expectations in x, the
// shared table.
func New(x *alg.Expectations, cfg Config) *Helper {
	if cfg.MaxExpected <= 0 {
		cfg.MaxExpected = DefaultMaxExpected
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Timeout > maxTimeout {
		cfg.Timeout = maxTimeout
	}
	ms := uint32(cfg.Timeout / time.Millisecond)
	if ms == 0 {
		ms = 1
	}
	return &Helper{x: x, maxExpected: cfg.MaxExpected, timeout: ms}
}

// Name returns "ftp".
func (h *Helper) Name() string { return HelperName }

// Inspect examines one accepted packet of an ESTABLISHED FTP control
// connection. Only a segment that starts right after a line end already
// seen in its direction is parsed. It returns ReasonALGDrop for a partial
// or unparsable command (the sender will retransmit it), and
// ReasonALGExpectFull when the announced data connection could not be
// stored; otherwise ReasonNone. It never allocates.
func (h *Helper) Inspect(pk *alg.Packet) packet.DropReason {
	p := pk.Parsed
	if p == nil || pk.State == nil || p.Tuple.Proto != packet.ProtoTCP {
		return packet.ReasonNone
	}
	payload := p.Payload()
	if len(payload) == 0 {
		return packet.ReasonNone
	}
	dir := pk.Dir
	seq := p.TCP.Seq
	endSeq := seq + uint32(len(payload))
	endsInNL := payload[len(payload)-1] == '\n'

	if !lineStartKnown(pk.State, dir, seq) {
		if endsInNL {
			rememberLineStart(pk.State, dir, endSeq)
		}
		return packet.ReasonNone
	}

	sender, peer := pk.Orig.Src, pk.Orig.Dst
	if dir == ctstate.Reply {
		sender, peer = peer, sender
	}
	cmd, m := Parse(payload, dir, pk.Orig.Family, sender)
	switch m {
	case MatchPartial:
		// Not remembered as a line start: the retransmission of the
		// whole command starts at the same sequence number.
		if h.x != nil {
			h.x.Refuse(alg.RefusedParse)
		}
		return packet.ReasonALGDrop
	case MatchNone:
		if endsInNL {
			rememberLineStart(pk.State, dir, endSeq)
		}
		return packet.ReasonNone
	}

	reason := packet.ReasonNone
	switch {
	case h.x == nil:
	case cmd.Addr != sender:
		// FTP bounce protection: a command may only open a data
		// connection to its sender's own address.
		h.x.Refuse(alg.RefusedBounce)
	default:
		reason = h.x.Add(pk.Now, alg.Expectation{
			Family:  pk.Orig.Family,
			Proto:   packet.ProtoTCP,
			Src:     peer,
			Dst:     cmd.Addr,
			DstPort: cmd.Port,
			Master:  pk.Orig,
			Helper:  HelperName,
			Expires: pk.Now + h.timeout,
		}, h.maxExpected)
	}
	if endsInNL {
		rememberLineStart(pk.State, dir, endSeq)
	}
	return reason
}

// Sequence tracking. Like Linux, the helper remembers for each direction
// the two most recent sequence numbers that follow a line end ('\n' ending
// a segment), and parses only segments that start at one of them: this
// finds commands without reassembly, and a retransmitted command (same
// starting sequence) is parsed again and re-arms its expectation.
//
// Layout of alg.ConnState (16 bytes, zero at creation): per direction
// (Original at 0, Reply at 8) two little-endian uint32 slots, each holding
// the sequence number plus one, 0 meaning empty. The one value this cannot
// hold, a line end exactly at sequence 0xffffffff, is not remembered: the
// next segment then goes unparsed (Linux would parse it), a 1 in 2^32 case.

func slotOffset(dir ctstate.Dir) int {
	if dir == ctstate.Reply {
		return 8
	}
	return 0
}

// lineStartKnown reports whether seq follows a line end seen in dir.
func lineStartKnown(st *alg.ConnState, dir ctstate.Dir, seq uint32) bool {
	v := seq + 1
	if v == 0 {
		return false
	}
	o := slotOffset(dir)
	return binary.LittleEndian.Uint32(st[o:]) == v || binary.LittleEndian.Uint32(st[o+4:]) == v
}

// rememberLineStart records seq as following a line end in dir: in an
// empty slot, else in place of the older one if seq is newer.
func rememberLineStart(st *alg.ConnState, dir ctstate.Dir, seq uint32) {
	v := seq + 1
	if v == 0 {
		return
	}
	o := slotOffset(dir)
	a := binary.LittleEndian.Uint32(st[o:])
	b := binary.LittleEndian.Uint32(st[o+4:])
	switch {
	case a == v || b == v:
		return
	case a == 0:
		binary.LittleEndian.PutUint32(st[o:], v)
		return
	case b == 0:
		binary.LittleEndian.PutUint32(st[o+4:], v)
		return
	}
	oldest, old := o, a
	if !seqBefore(a, b) {
		oldest, old = o+4, b
	}
	if seqBefore(old, v) {
		binary.LittleEndian.PutUint32(st[oldest:], v)
	}
}

// seqBefore reports whether a comes before b in sequence space.
func seqBefore(a, b uint32) bool { return int32(a-b) < 0 }
