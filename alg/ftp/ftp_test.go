package ftp

import (
	"net/netip"
	"testing"
	"time"

	"github.com/statewall/statewall/alg"
	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/flowtable/ctstate"
)

// session is a control connection driven segment by segment, with the
// sequence numbers a real TCP stream would carry.
type session struct {
	t      *testing.T
	h      *Helper
	orig   packet.Tuple
	state  alg.ConnState
	seq    [2]uint32 // next sequence number per direction
	parsed packet.Parsed
	now    uint32
}

func newSession(t *testing.T, h *Helper, client, server string, cseq, sseq uint32) *session {
	fam := packet.FamilyIPv6
	if netip.MustParseAddr(client).Is4() {
		fam = packet.FamilyIPv4
	}
	return &session{t: t, h: h, seq: [2]uint32{cseq, sseq}, orig: packet.Tuple{
		Src: addr(client), Dst: addr(server), SrcPort: 40000, DstPort: 21, Proto: packet.ProtoTCP, Family: fam,
	}}
}

// sendAt sends payload in dir at sequence seq without advancing the stream.
func (s *session) sendAt(dir ctstate.Dir, seq uint32, payload string) packet.DropReason {
	// Payload() treats offset 0 as "no payload": put one byte before it.
	s.parsed = packet.Parsed{Frame: append([]byte{0}, payload...), PayloadOff: 1, PayloadLen: uint16(len(payload))}
	s.parsed.Tuple = s.orig
	if dir == ctstate.Reply {
		s.parsed.Tuple.Src, s.parsed.Tuple.Dst = s.orig.Dst, s.orig.Src
		s.parsed.Tuple.SrcPort, s.parsed.Tuple.DstPort = s.orig.DstPort, s.orig.SrcPort
	}
	s.parsed.TCP.Seq = seq
	return s.h.Inspect(&alg.Packet{Parsed: &s.parsed, Dir: dir, Orig: s.orig, State: &s.state, Now: s.now})
}

// send sends payload in dir and advances the stream unless it was dropped.
func (s *session) send(dir ctstate.Dir, payload string) packet.DropReason {
	r := s.sendAt(dir, s.seq[dir], payload)
	if r == packet.ReasonNone {
		s.seq[dir] += uint32(len(payload))
	}
	return r
}

func (s *session) must(dir ctstate.Dir, payload string, want packet.DropReason) {
	s.t.Helper()
	if got := s.send(dir, payload); got != want {
		s.t.Fatalf("%v %q: %v, want %v", dir, payload, got, want)
	}
}

// login exchanges the banner and USER so that both directions know a line start.
func (s *session) login() {
	s.must(ctstate.Reply, "220 Welcome\r\n", packet.ReasonNone)
	s.must(ctstate.Original, "USER anonymous\r\n", packet.ReasonNone)
	s.must(ctstate.Reply, "331 Password please\r\n", packet.ReasonNone)
}

func (s *session) matches(src string, sport uint16, dst string, port uint16) bool {
	tu := packet.Tuple{Src: addr(src), Dst: addr(dst), SrcPort: sport, DstPort: port, Proto: packet.ProtoTCP, Family: s.orig.Family}
	return s.h.x.Match(s.now, &tu)
}

func TestHelperActiveAndPassive(t *testing.T) {
	x := alg.NewExpectations(16)
	s := newSession(t, New(x, Config{}), "10.0.0.1", "10.0.0.2", 1000, 0xfffffff0) // reply seq wraps
	s.login()
	s.must(ctstate.Original, "PORT 10,0,0,1,19,137\r\n", packet.ReasonNone)
	if !s.matches("10.0.0.2", 20, "10.0.0.1", 5001) {
		t.Fatal("PORT did not create an expectation from the server")
	}
	s.must(ctstate.Original, "PASV\r\n", packet.ReasonNone)
	s.must(ctstate.Reply, "227 Entering Passive Mode (10,0,0,2,39,16).\r\n", packet.ReasonNone)
	if s.matches("10.0.0.3", 1, "10.0.0.2", 10000) {
		t.Fatal("a third host matched the PASV expectation")
	}
	if !s.matches("10.0.0.1", 45678, "10.0.0.2", 10000) {
		t.Fatal("227 did not create an expectation from the client")
	}
	s.must(ctstate.Original, "EPSV\r\n", packet.ReasonNone)
	s.must(ctstate.Reply, "229 Entering Extended Passive Mode (|||10001|)\r\n", packet.ReasonNone)
	s.must(ctstate.Original, "EPRT |1|10.0.0.1|10002|\r\n", packet.ReasonNone) // replaces the 229 one (limit 1)
	if s.matches("10.0.0.1", 1, "10.0.0.2", 10001) {
		t.Error("the 229 expectation survived the EPRT one (MaxExpected 1)")
	}
	if !s.matches("10.0.0.2", 20, "10.0.0.1", 10002) {
		t.Error("EPRT did not create an expectation")
	}
	st := x.Stats()
	if st.Created != 4 || st.Matched != 3 || st.Replaced != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestHelperIPv6(t *testing.T) {
	x := alg.NewExpectations(16)
	s := newSession(t, New(x, Config{}), cli6, srv6, 7, 9)
	s.login()
	s.must(ctstate.Original, "EPRT |2|fd00:10:16:1::3|40467|\r\n", packet.ReasonNone)
	if !s.matches(srv6, 20, cli6, 40467) {
		t.Fatal("EPRT |2| did not create an expectation")
	}
	s.must(ctstate.Reply, "229 Entering extended passive mode (|||21008|).\r\n", packet.ReasonNone)
	if !s.matches(cli6, 52200, srv6, 21008) {
		t.Fatal("229 did not create an expectation")
	}
}

func TestHelperFirstSegmentNotParsed(t *testing.T) {
	// Linux parses only segments that start right after a line end it
	// saw: the first segment of each direction never is.
	x := alg.NewExpectations(16)
	s := newSession(t, New(x, Config{}), "10.0.0.1", "10.0.0.2", 1, 1)
	s.must(ctstate.Original, "PORT 10,0,0,1,19,137\r\n", packet.ReasonNone)
	s.must(ctstate.Original, "PO", packet.ReasonALGDrop) // now a line start is known
	if x.Len() != 0 {
		t.Error("the first segment was parsed")
	}
}

func TestHelperMidLineNotParsed(t *testing.T) {
	x := alg.NewExpectations(16)
	s := newSession(t, New(x, Config{}), "10.0.0.1", "10.0.0.2", 1, 1)
	s.login()
	s.must(ctstate.Original, "SITE foo ", packet.ReasonNone) // no line end
	s.must(ctstate.Original, "PORT 10,0,0,1,19,137\r\n", packet.ReasonNone)
	if x.Len() != 0 {
		t.Error("a segment starting mid-line was parsed")
	}
	s.must(ctstate.Original, "PORT 10,0,0,1,19,138\r\n", packet.ReasonNone)
	if x.Len() != 1 {
		t.Error("the segment after the line end was not parsed")
	}
}

func TestHelperPartialDropAndRetransmit(t *testing.T) {
	x := alg.NewExpectations(16)
	s := newSession(t, New(x, Config{}), "10.0.0.1", "10.0.0.2", 1, 1)
	s.login()
	s.must(ctstate.Original, "POR", packet.ReasonALGDrop)
	s.must(ctstate.Original, "PORT 10,0,0,1,19,137\r", packet.ReasonNone) // no LF yet
	s.must(ctstate.Original, "\n", packet.ReasonNone)
	if x.Len() != 1 {
		t.Fatal("the retransmitted whole command was not parsed")
	}
	s.must(ctstate.Reply, "2", packet.ReasonALGDrop)
	s.must(ctstate.Reply, "227 AAAAAAAA\r\n", packet.ReasonALGDrop)
	s.must(ctstate.Reply, "200 PORT command successful\r\n", packet.ReasonNone)
	if got := x.Stats().Refused[alg.RefusedParse]; got != 3 {
		t.Errorf("parse refusals %d, want 3", got)
	}
}

func TestHelperRetransmitRearms(t *testing.T) {
	x := alg.NewExpectations(16)
	s := newSession(t, New(x, Config{}), "10.0.0.1", "10.0.0.2", 1, 1)
	s.login()
	seq := s.seq[ctstate.Original]
	cmd := "PORT 10,0,0,1,19,137\r\n"
	for range 4 {
		if r := s.sendAt(ctstate.Original, seq, cmd); r != packet.ReasonNone {
			t.Fatal(r)
		}
	}
	st := x.Stats()
	if st.Created != 4 || st.Rearmed != 3 || x.Len() != 1 {
		t.Errorf("stats %+v len %d", st, x.Len())
	}
}

func TestHelperBounce(t *testing.T) {
	x := alg.NewExpectations(16)
	s := newSession(t, New(x, Config{}), "1.1.1.2", "2.2.2.1", 1, 1)
	s.login()
	s.must(ctstate.Original, "PORT 2,2,2,3,0,80\r\n", packet.ReasonNone)
	s.must(ctstate.Reply, "227 Entering Passive Mode (9,9,9,9,4,0)\r\n", packet.ReasonNone)
	s.must(ctstate.Original, "EPRT |1|2.2.2.3|80|\r\n", packet.ReasonNone)
	if x.Len() != 0 {
		t.Fatal("a bounce created an expectation")
	}
	if got := x.Stats().Refused[alg.RefusedBounce]; got != 3 {
		t.Errorf("bounce refusals %d, want 3", got)
	}
}

func TestHelperFamilyMismatchDrops(t *testing.T) {
	x := alg.NewExpectations(16)
	s := newSession(t, New(x, Config{}), "1.1.1.1", "2.2.2.2", 1, 1)
	s.login()
	s.must(ctstate.Original, "EPRT |2|2601:191:8500:2e00:7c0f:78e0:dc5b:f7c1|34325|\r\n", packet.ReasonALGDrop)
}

func TestHelperTableFullDrops(t *testing.T) {
	x := alg.NewExpectations(1)
	h := New(x, Config{})
	a := newSession(t, h, "10.0.0.1", "10.0.0.9", 1, 1)
	b := newSession(t, h, "10.0.0.2", "10.0.0.9", 1, 1)
	a.login()
	b.login()
	a.must(ctstate.Original, "PORT 10,0,0,1,19,137\r\n", packet.ReasonNone)
	b.must(ctstate.Original, "PORT 10,0,0,2,19,137\r\n", packet.ReasonALGExpectFull)
	// The dropped command is retransmitted at the same sequence number.
	if !a.matches("10.0.0.9", 20, "10.0.0.1", 5001) {
		t.Fatal("first expectation lost")
	}
	if r := b.sendAt(ctstate.Original, b.seq[ctstate.Original], "PORT 10,0,0,2,19,137\r\n"); r != packet.ReasonNone {
		t.Fatalf("retransmission after room was made: %v", r)
	}
}

func TestHelperConfigTimeout(t *testing.T) {
	x := alg.NewExpectations(16)
	s := newSession(t, New(x, Config{Timeout: 2 * time.Second, MaxExpected: 2}), "10.0.0.1", "10.0.0.2", 1, 1)
	s.login()
	s.now = 5000
	s.must(ctstate.Original, "PORT 10,0,0,1,19,137\r\n", packet.ReasonNone)
	s.must(ctstate.Original, "PORT 10,0,0,1,19,138\r\n", packet.ReasonNone)
	if x.Len() != 2 {
		t.Fatalf("MaxExpected 2 kept %d", x.Len())
	}
	s.now = 6999
	if !s.matches("10.0.0.2", 20, "10.0.0.1", 5001) {
		t.Error("expectation lapsed early")
	}
	s.now = 7000
	if s.matches("10.0.0.2", 20, "10.0.0.1", 5002) {
		t.Error("expectation outlived its timeout")
	}
}

func TestLineStartSlots(t *testing.T) {
	var st alg.ConnState
	o := ctstate.Original
	if lineStartKnown(&st, o, 0) {
		t.Fatal("zero state knows seq 0")
	}
	rememberLineStart(&st, o, 100)
	rememberLineStart(&st, o, 200)
	rememberLineStart(&st, o, 50) // older than both: ignored
	if !lineStartKnown(&st, o, 100) || !lineStartKnown(&st, o, 200) || lineStartKnown(&st, o, 50) {
		t.Fatal("slots after 100, 200, 50")
	}
	rememberLineStart(&st, o, 300) // replaces the oldest (100)
	if lineStartKnown(&st, o, 100) || !lineStartKnown(&st, o, 200) || !lineStartKnown(&st, o, 300) {
		t.Fatal("slots after 300")
	}
	if lineStartKnown(&st, ctstate.Reply, 200) {
		t.Fatal("directions share slots")
	}
	rememberLineStart(&st, o, 0x10) // after 300 across the wrap? no: 0x10 is before 300
	if lineStartKnown(&st, o, 0x10) {
		t.Fatal("older seq replaced a slot")
	}
	rememberLineStart(&st, o, 0xffffffff) // unrepresentable: not remembered
	if lineStartKnown(&st, o, 0xffffffff) {
		t.Fatal("seq 0xffffffff remembered")
	}
}

func TestInspectNoAllocs(t *testing.T) {
	x := alg.NewExpectations(16)
	s := newSession(t, New(x, Config{}), "10.0.0.1", "10.0.0.2", 1, 1)
	s.login()
	seq := s.seq[ctstate.Original]
	port := newPacket(s, ctstate.Original, seq, "PORT 10,0,0,1,19,137\r\n")
	other := newPacket(s, ctstate.Reply, s.seq[ctstate.Reply], "150 Here comes the directory listing.\r\n")
	if n := testing.AllocsPerRun(1000, func() {
		s.h.Inspect(port)
		s.h.Inspect(other)
	}); n != 0 {
		t.Errorf("Inspect: %v allocs", n)
	}
	if x.Stats().Created < 1000 {
		t.Errorf("created %d: the PORT was not parsed each time", x.Stats().Created)
	}
}

// newPacket builds an alg.Packet carrying payload (its own Parsed).
func newPacket(s *session, dir ctstate.Dir, seq uint32, payload string) *alg.Packet {
	p := &packet.Parsed{Frame: append([]byte{0}, payload...), PayloadOff: 1, PayloadLen: uint16(len(payload))}
	p.Tuple = s.orig
	p.TCP.Seq = seq
	return &alg.Packet{Parsed: p, Dir: dir, Orig: s.orig, State: &s.state}
}

func BenchmarkInspectData(b *testing.B) {
	x := alg.NewExpectations(16)
	s := newSession(nil, New(x, Config{}), "10.0.0.1", "10.0.0.2", 1, 1)
	pk := newPacket(s, ctstate.Reply, 12345, "226 Transfer complete.\r\n")
	b.ReportAllocs()
	for b.Loop() {
		s.h.Inspect(pk)
	}
}

func BenchmarkInspectPORT(b *testing.B) {
	x := alg.NewExpectations(16)
	s := newSession(nil, New(x, Config{}), "10.0.0.1", "10.0.0.2", 1, 1)
	rememberLineStart(&s.state, ctstate.Original, 100)
	pk := newPacket(s, ctstate.Original, 100, "PORT 10,0,0,1,19,137\r\n")
	b.ReportAllocs()
	for b.Loop() {
		s.h.Inspect(pk)
	}
}
