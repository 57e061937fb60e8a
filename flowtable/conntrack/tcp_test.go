package conntrack

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/flowtable/ctstate"
)

const (
	fSYN = packet.TCPSyn
	fACK = packet.TCPAck
	fFIN = packet.TCPFin
	fRST = packet.TCPRst
	fPSH = packet.TCPPsh
	fURG = packet.TCPUrg
)

// referenceTable is the transition table of reference/conntrack.md, as
// text: rows dir/class, columns NONE SYN_SENT SYN_RECV ESTABLISHED
// FIN_WAIT CLOSE_WAIT LAST_ACK TIME_WAIT CLOSE SYN_SENT2.
var referenceTable = map[string]string{
	"ORIG syn":     "SS SS IG IG IG IG IG SS SS S2",
	"ORIG synack":  "IV IV SR IV IV IV IV IV IV SR",
	"ORIG fin":     "IV IV FW FW LA LA LA TW CL IV",
	"ORIG ack":     "ES IV ES ES CW CW TW TW CL IV",
	"ORIG rst":     "IV CL CL CL CL CL CL CL CL CL",
	"ORIG none":    "IV IV IV IV IV IV IV IV IV IV",
	"REPLY syn":    "IV S2 IV IV IV IV IV SS IV S2",
	"REPLY synack": "IV SR IG IG IG IG IG IG IG SR",
	"REPLY fin":    "IV IV FW FW LA LA LA TW CL IV",
	"REPLY ack":    "IV IG SR ES CW CW TW TW CL IG",
	"REPLY rst":    "IV CL CL CL CL CL CL CL CL CL",
	"REPLY none":   "IV IV IV IV IV IV IV IV IV IV",
}

var abbrev = map[string]TCPState{
	"SS": TCPSynSent, "SR": TCPSynRecv, "ES": TCPEstablished, "FW": TCPFinWait, "CW": TCPCloseWait,
	"LA": TCPLastAck, "TW": TCPTimeWait, "CL": TCPClose, "S2": TCPSynSent2, "IV": tcpIV, "IG": tcpIG,
}

var classNames = [...]string{idxSYN: "syn", idxSYNACK: "synack", idxFIN: "fin", idxACK: "ack", idxRST: "rst", idxNone: "none"}

// classFlags are the flags sent for each class in the cell tests.
var classFlags = [...]uint8{idxSYN: fSYN, idxSYNACK: fSYN | fACK, idxFIN: fFIN | fACK, idxACK: fACK, idxRST: fRST, idxNone: 0}

func TestTCPTransitionTableIsTheReference(t *testing.T) {
	for dir, dn := range []string{"ORIG", "REPLY"} {
		for idx := idxSYN; idx < numTCPIndex; idx++ {
			row := strings.Fields(referenceTable[dn+" "+classNames[idx]])
			if len(row) != NumTCPStates {
				t.Fatalf("%s %s: reference row has %d cells", dn, classNames[idx], len(row))
			}
			for s := 0; s < NumTCPStates; s++ {
				if got, want := tcpTransitions[dir][idx][s], abbrev[row[s]]; got != want {
					t.Errorf("%s %s in %v: table has %v, reference %v", dn, classNames[idx], TCPState(s), got, want)
				}
			}
		}
	}
}

// reach drives a fresh connection into state s.
func reach(t *testing.T, s TCPState) *tcpConv {
	c := newConv(t, newTracker(t, nil))
	switch s {
	case TCPSynSent:
		c.syn()
	case TCPSynRecv:
		c.syn()
		c.synack()
	case TCPSynSent2:
		c.syn()
		c.send(1, fSYN, 0)
	default:
		c.handshake()
		switch s {
		case TCPFinWait:
			c.send(0, fFIN|fACK, 0)
		case TCPCloseWait:
			c.send(0, fFIN|fACK, 0)
			c.send(1, fACK, 0)
		case TCPLastAck:
			c.send(0, fFIN|fACK, 0)
			c.send(1, fACK, 0)
			c.send(1, fFIN|fACK, 0)
		case TCPTimeWait:
			c.send(0, fFIN|fACK, 0)
			c.send(1, fACK, 0)
			c.send(1, fFIN|fACK, 0)
			c.send(0, fACK, 0)
		case TCPClose:
			c.send(0, fRST, 0)
		}
	}
	if got := c.state(); got != s {
		t.Fatalf("reach %v: got %v", s, got)
	}
	return c
}

// TestTCPTransitionCells sends every flag class in both directions in
// every state and checks the packet's ct state and the new TCP state
// against the table, with the special cases Linux layers on it.
func TestTCPTransitionCells(t *testing.T) {
	for dir := 0; dir < 2; dir++ {
		for idx := idxSYN; idx < numTCPIndex; idx++ {
			for s := TCPState(0); int(s) < NumTCPStates; s++ {
				want := tcpTransitions[dir][idx][s]
				name := fmt.Sprintf("%s/%s/%v", []string{"orig", "reply"}[dir], classNames[idx], s)
				t.Run(name, func(t *testing.T) {
					if s == TCPNone {
						if dir == 1 {
							t.Skip("no reply direction without an entry")
						}
						c := newConv(t, newTracker(t, nil))
						r := c.send(0, classFlags[idx], 0)
						if want == tcpIV {
							if r.State != ctstate.Invalid {
								t.Fatalf("first %s: %+v, want INVALID", classNames[idx], r)
							}
							return
						}
						if r.State != ctstate.New || r.TCPState != want {
							t.Fatalf("first %s: %+v, want NEW %v", classNames[idx], r, want)
						}
						return
					}
					c := reach(t, s)
					r := c.send(dir, classFlags[idx], 0)
					switch {
					case want == tcpIV:
						if r.State != ctstate.Invalid {
							t.Fatalf("got %+v, want INVALID", r)
						}
						if got := c.state(); got != s {
							t.Fatalf("state %v after an invalid packet, want %v", got, s)
						}
					case want == tcpIG:
						if r.State == ctstate.Invalid {
							t.Fatalf("ignored packet INVALID: %+v", r)
						}
						if got := c.state(); got != s {
							t.Fatalf("state %v after an ignored packet, want %v", got, s)
						}
					case want == TCPSynSent && s >= TCPTimeWait:
						// A SYN re-opens a closed connection: a fresh entry.
						if r.State != ctstate.New || r.Dir != ctstate.Original || r.TCPState != TCPSynSent {
							t.Fatalf("re-open: %+v", r)
						}
					case idx == idxRST && s == TCPSynSent:
						// No reply seen: the RST deletes the entry.
						if r.State == ctstate.Invalid || c.exists() {
							t.Fatalf("RST before any reply: %+v, entry kept %v", r, c.exists())
						}
					default:
						if r.State == ctstate.Invalid || r.TCPState != want {
							t.Fatalf("got %+v, want %v", r, want)
						}
						if got := c.state(); got != want {
							t.Fatalf("entry state %v, want %v", got, want)
						}
					}
				})
			}
		}
	}
}

func TestTCPInvalidFlags(t *testing.T) {
	valid := map[uint8]bool{fSYN: true, fSYN | fURG: true, fSYN | fACK: true, fRST: true, fRST | fACK: true,
		fFIN | fACK: true, fFIN | fACK | fURG: true, fACK: true, fACK | fURG: true}
	for f := 0; f < 64; f++ {
		for _, extra := range []uint8{0, fPSH, packet.TCPEce | packet.TCPCwr} {
			flags := uint8(f) | extra
			if !tcpCheckFlags(flags) != !valid[uint8(f)&^fPSH] && extra == 0 && f&int(fPSH) == 0 {
				t.Errorf("flags %#x: valid %v, want %v", flags, tcpCheckFlags(flags), valid[uint8(f)])
			}
			if f&int(fPSH) == 0 && tcpCheckFlags(flags) != valid[uint8(f)] {
				t.Errorf("flags %#x: valid %v, want %v", flags, tcpCheckFlags(flags), valid[uint8(f)])
			}
		}
	}
	// On an established connection an invalid combination is INVALID and
	// changes nothing.
	c := reach(t, TCPEstablished)
	for _, f := range []uint8{fSYN | fFIN, fFIN, 0, fSYN | fRST, fFIN | fRST | fACK, fURG} {
		if r := c.send(0, f, 0); r.State != ctstate.Invalid || r.Reason != packet.ReasonTCPInvalidFlags {
			t.Errorf("flags %#x: %+v", f, r)
		}
	}
	if c.state() != TCPEstablished {
		t.Fatal(c.state())
	}
}

func TestTCPInvalidNew(t *testing.T) {
	for _, f := range []uint8{fSYN | fACK, fFIN | fACK, fRST, fRST | fACK} {
		c := newConv(t, newTracker(t, nil))
		if r := c.send(0, f, 0); r.State != ctstate.Invalid || r.Reason != packet.ReasonTCPInvalidNew {
			t.Errorf("first %#x: %+v", f, r)
		}
		if c.exists() {
			t.Errorf("first %#x created an entry", f)
		}
	}
	// Loose off: a first ACK is INVALID too.
	c := newConv(t, newTracker(t, func(o *Options) { o.TCPLoose = false }))
	if r := c.send(0, fACK, 10); r.State != ctstate.Invalid || r.Reason != packet.ReasonTCPInvalidNew {
		t.Errorf("first ACK, loose off: %+v", r)
	}
	if r := c.send(0, fSYN, 0); r.State != ctstate.New {
		t.Errorf("SYN, loose off: %+v", r)
	}
}

func TestTCPMidstreamPickup(t *testing.T) {
	c := newConv(t, newTracker(t, nil))
	c.nxt = [2]uint32{100000, 900000}
	r := c.send(0, fACK|fPSH, 100)
	if r.State != ctstate.New || r.TCPState != TCPEstablished {
		t.Fatalf("pickup: %+v", r)
	}
	e := c.info()
	if !e.Unreplied || e.Assured || e.Timeout != 300*time.Second {
		t.Fatalf("picked-up entry: %+v (timeout capped at UNACK 300 s until a reply)", e)
	}
	// Still no reply: the original direction stays NEW.
	if r := c.send(0, fACK, 0); r.State != ctstate.New {
		t.Fatalf("second packet before a reply: %+v", r)
	}
	if r := c.send(1, fACK, 0); r.State != ctstate.Established || r.Dir != ctstate.Reply {
		t.Fatalf("reply: %+v", r)
	}
	if r := c.send(0, fACK, 0); r.State != ctstate.Established {
		t.Fatalf("after reply: %+v", r)
	}
	if e := c.info(); !e.Assured || e.Timeout != 5*24*time.Hour {
		t.Fatalf("after a valid answer: %+v", e)
	}
	// The windows were never seen: both directions are liberal, a wild
	// sequence number is accepted.
	if r := c.raw(1, seg{flags: fACK, seq: c.nxt[1] + 1e9, ack: c.nxt[0], win: 100, wscale: -1}); r.State != ctstate.Established {
		t.Fatalf("wild segment: %+v", r)
	}
}

// TestTCPMidstreamNeverInWindow: like Linux, a picked-up connection whose
// segments all fail the window checks (accepted as liberal) never records
// a window, so last_win stays 0 and the RETRANS cap applies.
func TestTCPMidstreamNeverInWindow(t *testing.T) {
	c := newConv(t, newTracker(t, nil))
	c.send(0, fACK|fPSH, 100)
	c.send(0, fACK|fPSH, 100)
	c.raw(1, seg{flags: fACK, seq: 12345, ack: c.nxt[0], win: 100, wscale: -1})
	c.send(0, fACK, 0)
	if e := c.info(); !e.Assured || e.Timeout != 300*time.Second {
		t.Fatalf("%+v", e)
	}
}

func TestTCPHandshakeAssured(t *testing.T) {
	c := newConv(t, newTracker(t, nil))
	c.syn()
	if e := c.info(); !e.Unreplied || e.TCPState != TCPSynSent || e.Timeout != 120*time.Second {
		t.Fatalf("after SYN: %+v", e)
	}
	c.synack()
	if e := c.info(); e.Unreplied || e.Assured || e.Timeout != 60*time.Second {
		t.Fatalf("after SYN/ACK: %+v", e)
	}
	if r := c.send(0, fACK, 0); r.State != ctstate.Established || r.Dir != ctstate.Original {
		t.Fatalf("ACK: %+v", r)
	}
	if e := c.info(); !e.Assured || e.TCPState != TCPEstablished || e.Timeout != 5*24*time.Hour {
		t.Fatalf("after ACK: %+v", e)
	}
	// Data in flight: the UNACK cap; acked: back to 5 days.
	c.send(0, fACK|fPSH, 100)
	if e := c.info(); e.Timeout != 300*time.Second {
		t.Fatalf("unacknowledged data: %+v", e)
	}
	c.send(1, fACK, 0)
	if e := c.info(); e.Timeout != 5*24*time.Hour {
		t.Fatalf("data acknowledged: %+v", e)
	}
}

func TestTCPSynRetransmitDoesNotRefresh(t *testing.T) {
	c := newConv(t, newTracker(t, nil))
	c.syn()
	before := c.info().Timeout
	c.now += 5000
	if r := c.send(0, fSYN, 0); r.State != ctstate.New || r.TCPState != TCPSynSent {
		t.Fatalf("retransmitted SYN: %+v", r)
	}
	if after := c.info().Timeout; after >= before {
		t.Fatalf("timer renewed by a retransmitted SYN: %v -> %v", before, after)
	}
}

func TestTCPRSTBeforeReplyDeletes(t *testing.T) {
	c := newConv(t, newTracker(t, nil))
	c.syn()
	r := c.raw(0, seg{flags: fRST, seq: c.nxt[0], wscale: -1})
	if r.State != ctstate.New || r.TCPState != TCPClose || c.exists() {
		t.Fatalf("RST before a reply: %+v, entry kept %v", r, c.exists())
	}
	// A reply RST (even one acking the ISN, not ISN+1) also ends it.
	c = newConv(t, newTracker(t, nil))
	c.syn()
	r = c.raw(1, seg{flags: fRST | fACK, seq: 0, ack: c.isn[0], wscale: -1})
	if r.State != ctstate.Established || r.Dir != ctstate.Reply || c.exists() {
		t.Fatalf("reply RST: %+v, entry kept %v", r, c.exists())
	}
}

func TestTCPWindowChecks(t *testing.T) {
	c := reach(t, TCPEstablished)
	c.win = 1000
	c.send(1, fACK, 0) // the server announces a 1000-byte window
	// I: beyond the receiver's window.
	if r := c.raw(0, seg{flags: fACK, seq: c.nxt[0] + 1000000, ack: c.nxt[1], win: 1000, wscale: -1}); r.State != ctstate.Invalid || r.Reason != packet.ReasonTCPOutOfWindow {
		t.Fatalf("seq over the upper bound: %+v", r)
	}
	// I, overshooting by less than the receiver's largest window: ignored.
	if r := c.raw(0, seg{flags: fACK, seq: c.nxt[0] + 70000, ack: c.nxt[1], win: 1000, wscale: -1}); r.State == ctstate.Invalid {
		t.Fatalf("a small overshoot: %+v", r)
	}
	// III: acking data never sent.
	if r := c.raw(0, seg{flags: fACK, seq: c.nxt[0], ack: c.nxt[1] + 10, win: 1000, wscale: -1}); r.State != ctstate.Invalid || r.Reason != packet.ReasonTCPOutOfWindow {
		t.Fatalf("ack over the upper bound: %+v", r)
	}
	// be_liberal accepts both.
	c = newConv(t, newTracker(t, func(o *Options) { o.TCPBeLiberal = true }))
	c.handshake()
	if r := c.raw(0, seg{flags: fACK, seq: c.nxt[0] + 10000000, ack: c.nxt[1], win: 1000, wscale: -1}); r.State != ctstate.Established {
		t.Fatalf("be_liberal: %+v", r)
	}
}

// TestTCPAckLossStall is conntrack_ack_loss_stall.pkt: 46 acked segments,
// then the first one again (already ACKed data) must pass.
func TestTCPAckLossStall(t *testing.T) {
	c := reach(t, TCPEstablished)
	first := c.nxt[1]
	for range 46 {
		c.send(1, fACK|fPSH, 1460)
		c.send(0, fACK, 0)
	}
	r := c.raw(1, seg{flags: fACK | fPSH, seq: first, ack: c.nxt[0], win: 257, len: 1460, wscale: -1})
	if r.State == ctstate.Invalid {
		t.Fatalf("retransmission of acked data: %+v", r)
	}
	if c.state() != TCPEstablished {
		t.Fatal(c.state())
	}
}

// TestTCPRSTInvalid is conntrack_rst_invalid.pkt: after the handshake and
// 3000 bytes from the peer, four bad RSTs are INVALID and the exact one
// closes.
func TestTCPRSTInvalid(t *testing.T) {
	c := newConv(t, newTracker(t, nil))
	c.isn = [2]uint32{0, 0}
	c.nxt = c.isn
	c.handshake() // the peer (client here) sends data; we are the server side
	for range 3 {
		c.send(0, fACK|fPSH, 1000)
	}
	c.send(1, fACK, 0) // we ack 3001
	invalid := 0
	for _, s := range []seg{
		{flags: fRST, seq: 0},
		{flags: fRST, seq: 1000000},
		{flags: fRST, seq: 42},
		{flags: fRST | fACK, seq: 3000, ack: c.nxt[1]},
	} {
		s.wscale = -1
		if r := c.raw(0, s); r.State == ctstate.Invalid {
			invalid++
		} else {
			t.Errorf("RST seq %d: %+v", s.seq, r)
		}
		if c.state() != TCPEstablished {
			t.Fatalf("state %v after RST seq %d", c.state(), s.seq)
		}
	}
	if invalid != 4 {
		t.Fatalf("%d INVALID RSTs, want 4", invalid)
	}
	if r := c.raw(0, seg{flags: fRST | fACK, seq: 3001, ack: c.nxt[1], wscale: -1}); r.State != ctstate.Established || r.TCPState != TCPClose {
		t.Fatalf("exact RST: %+v", r)
	}
}

// TestTCPInexactRST is conntrack_inexact_rst.pkt: after the peer's FIN
// and our RST, a late inexact RST from the peer is not INVALID.
func TestTCPInexactRST(t *testing.T) {
	c := reach(t, TCPEstablished)
	c.send(0, fACK|fPSH, 1000) // peer data we never read
	c.send(1, fACK, 0)
	c.send(0, fFIN|fACK, 0)
	if c.state() != TCPFinWait {
		t.Fatal(c.state())
	}
	c.send(1, fACK, 0)
	if c.state() != TCPCloseWait {
		t.Fatal(c.state())
	}
	if r := c.send(1, fRST|fACK, 0); r.State == ctstate.Invalid || r.TCPState != TCPClose {
		t.Fatalf("our RST: %+v", r)
	}
	if r := c.raw(0, seg{flags: fRST, seq: c.nxt[0] - 1001, wscale: -1}); r.State == ctstate.Invalid {
		t.Fatalf("late inexact RST: %+v", r)
	}
}

// TestTCPSynChallengeAck is conntrack_syn_challenge_ack.pkt.
func TestTCPSynChallengeAck(t *testing.T) {
	c := newConv(t, newTracker(t, nil))
	c.syn()
	// A challenge ACK from an old incarnation: unrelated numbers.
	if r := c.raw(1, seg{flags: fACK, seq: 777777, ack: 424242, win: 100, wscale: -1}); r.State == ctstate.Invalid {
		t.Fatalf("challenge ACK: %+v", r)
	}
	if c.state() != TCPSynSent {
		t.Fatal(c.state())
	}
	// Our RST answers it (seq = its ack).
	if r := c.raw(0, seg{flags: fRST, seq: 424242, wscale: -1}); r.State == ctstate.Invalid {
		t.Fatalf("RST: %+v", r)
	}
	// SYN again, a correct SYN/ACK, the ACK: ESTABLISHED and ASSURED.
	if r := c.send(0, fSYN, 0); r.State == ctstate.Invalid {
		t.Fatalf("SYN retransmit: %+v", r)
	}
	if r := c.send(1, fSYN|fACK, 0); r.State != ctstate.Established || r.TCPState != TCPSynRecv {
		t.Fatalf("SYN/ACK: %+v", r)
	}
	c.send(0, fACK, 0)
	if e := c.info(); e.TCPState != TCPEstablished || !e.Assured {
		t.Fatalf("after ACK: %+v", e)
	}
}

// TestTCPSynAckOld is conntrack_synack_old.pkt: a SYN/ACK acking the wrong
// number is INVALID; a later correct one with another ISN is accepted and
// re-initialises the window.
func TestTCPSynAckOld(t *testing.T) {
	c := newConv(t, newTracker(t, nil))
	c.syn()
	if r := c.raw(1, seg{flags: fSYN | fACK, seq: 99999, ack: c.nxt[0] + 5000, win: 100, wscale: -1}); r.State != ctstate.Invalid {
		t.Fatalf("SYN/ACK with a bad ack: %+v", r)
	}
	if e := c.info(); e.TCPState != TCPSynSent || !e.Unreplied {
		t.Fatalf("after the bad SYN/ACK: %+v", e)
	}
	c.send(0, fSYN, 0)
	c.isn[1], c.nxt[1] = 7000000, 7000000
	if r := c.send(1, fSYN|fACK, 0); r.State != ctstate.Established || r.TCPState != TCPSynRecv {
		t.Fatalf("correct SYN/ACK: %+v", r)
	}
	c.send(0, fACK, 0)
	// Data from the server in its new window passes.
	if r := c.send(1, fACK|fPSH, 1000); r.State != ctstate.Established {
		t.Fatalf("server data: %+v", r)
	}
	if e := c.info(); e.TCPState != TCPEstablished || !e.Assured {
		t.Fatalf("final: %+v", e)
	}
}

// TestTCPSynAckReuse is conntrack_synack_reuse.pkt: a new SYN on an
// established tuple, our challenge ACK, the peer's RST clears the entry,
// its SYN retransmit starts a fresh one.
func TestTCPSynAckReuse(t *testing.T) {
	c := reach(t, TCPEstablished)
	c.send(0, fACK|fPSH, 100)
	c.send(1, fACK, 0)
	if r := c.raw(0, seg{flags: fSYN, seq: 2000, win: 1000, wscale: -1}); r.State == ctstate.Invalid {
		t.Fatalf("new SYN on the tuple: %+v", r)
	}
	if r := c.send(1, fACK, 0); r.State == ctstate.Invalid { // challenge ACK
		t.Fatalf("challenge ACK: %+v", r)
	}
	if r := c.send(0, fRST|fACK, 0); r.State == ctstate.Invalid || r.TCPState != TCPClose {
		t.Fatalf("peer RST: %+v", r)
	}
	if r := c.raw(0, seg{flags: fSYN, seq: 2000, win: 1000, wscale: -1}); r.State != ctstate.New || r.TCPState != TCPSynSent {
		t.Fatalf("SYN retransmit: %+v", r)
	}
	if r := c.raw(1, seg{flags: fSYN | fACK, seq: 9000, ack: 2001, win: 1000, wscale: -1}); r.State != ctstate.Established || r.TCPState != TCPSynRecv {
		t.Fatalf("SYN/ACK: %+v", r)
	}
}

// TestTCPResyncIgnoredSyn: a SYN ignored on an established tuple and the
// SYN/ACK answering it put the entry back in sync (SYN_RECV).
func TestTCPResyncIgnoredSyn(t *testing.T) {
	c := reach(t, TCPEstablished)
	if r := c.raw(0, seg{flags: fSYN, seq: 800000, win: 2000, wscale: 7}); r.State == ctstate.Invalid || c.state() != TCPEstablished {
		t.Fatalf("SYN in ESTABLISHED: %+v %v", r, c.state())
	}
	if r := c.raw(1, seg{flags: fSYN | fACK, seq: 300000, ack: 800001, win: 3000, wscale: 7}); r.State != ctstate.Established || r.TCPState != TCPSynRecv {
		t.Fatalf("SYN/ACK answering it: %+v", r)
	}
	if r := c.raw(0, seg{flags: fACK, seq: 800001, ack: 300001, win: 2000, wscale: -1}); r.State != ctstate.Established || r.TCPState != TCPEstablished {
		t.Fatalf("ACK: %+v", r)
	}
	// The windows are the new connection's (scaled by 7).
	if r := c.raw(1, seg{flags: fACK | fPSH, seq: 300001, ack: 800001, win: 3000, len: 100000, wscale: -1}); r.State != ctstate.Established {
		t.Fatalf("data within the scaled window: %+v", r)
	}
}

// TestTCPChallengeAckInLastAck: a SYN in LAST_ACK and the challenge ACK it
// draws must not be taken for the last ACK.
func TestTCPChallengeAckInLastAck(t *testing.T) {
	c := reach(t, TCPLastAck)
	if r := c.raw(0, seg{flags: fSYN, seq: 900000, win: 1000, wscale: -1}); r.State == ctstate.Invalid {
		t.Fatalf("SYN in LAST_ACK: %+v", r)
	}
	if r := c.send(1, fACK, 0); r.State == ctstate.Invalid || c.state() != TCPLastAck {
		t.Fatalf("challenge ACK: %+v, state %v", r, c.state())
	}
}

func TestTCPSimultaneousOpen(t *testing.T) {
	c := newConv(t, newTracker(t, nil))
	c.syn()
	if r := c.send(1, fSYN, 0); r.State != ctstate.Established || r.TCPState != TCPSynSent2 {
		t.Fatalf("server SYN: %+v", r)
	}
	if r := c.send(0, fSYN|fACK, 0); r.State != ctstate.Established || r.TCPState != TCPSynRecv {
		t.Fatalf("client SYN/ACK: %+v", r)
	}
	if r := c.send(1, fACK, 0); r.State != ctstate.Established || r.TCPState != TCPEstablished {
		t.Fatalf("server ACK: %+v", r)
	}
	if e := c.info(); !e.Assured {
		t.Fatalf("not assured: %+v", e)
	}
}

func TestTCPWindowScaleClamped(t *testing.T) {
	c := newConv(t, newTracker(t, nil))
	c.raw(0, seg{flags: fSYN, seq: 1000, win: 65535, wscale: 255})
	c.raw(1, seg{flags: fSYN | fACK, seq: 5000, ack: 1001, win: 65535, wscale: 14})
	c.raw(0, seg{flags: fACK, seq: 1001, ack: 5001, win: 65535, wscale: -1})
	// 65535 << 14 = 1073725440: a segment near the top of that window is
	// in window.
	if r := c.raw(1, seg{flags: fACK, seq: 5001 + 1000000000, ack: 1001, win: 65535, len: 100, wscale: -1}); r.State != ctstate.Established {
		t.Fatalf("data in the scaled window: %+v", r)
	}
	if s := c.tr.t4.tb.Entry(1).Value.tdScale(0); s != 14 {
		t.Fatalf("client scale %d, want 14", s)
	}
}

func TestTCPRetransCap(t *testing.T) {
	c := reach(t, TCPEstablished)
	c.send(0, fACK|fPSH, 100)
	c.send(1, fACK, 0)
	s := seg{flags: fACK | fPSH, seq: c.nxt[0], ack: c.nxt[1], win: c.win, len: 100, wscale: -1}
	for i := range 4 {
		c.raw(0, s)
		if e := c.info(); i == 3 && e.Timeout != 300*time.Second {
			t.Fatalf("after 3 retransmissions: %v, want the RETRANS cap", e.Timeout)
		}
	}
}

func TestTCPTimeWaitReopen(t *testing.T) {
	c := reach(t, TCPTimeWait)
	c.isn[0] += 100000
	c.synSent[0] = false
	r := c.send(0, fSYN, 0)
	if r.State != ctstate.New || r.TCPState != TCPSynSent || !r.Created {
		t.Fatalf("SYN in TIME_WAIT: %+v", r)
	}
	if e := c.info(); !e.Unreplied || e.Assured {
		t.Fatalf("re-opened entry: %+v", e)
	}
}

func TestTCPStateNames(t *testing.T) {
	for s := TCPState(0); int(s) < NumTCPStates; s++ {
		if s.String() == "UNKNOWN" || s.String() == "" {
			t.Errorf("%d has no name", s)
		}
	}
	if TCPState(200).String() != "UNKNOWN" {
		t.Error("out of range")
	}
}
