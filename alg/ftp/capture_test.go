package ftp

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/statewall/statewall/alg"
	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/dataplane/packet/packettest"
	"github.com/statewall/statewall/flowtable/ctstate"
)

// expected is what the answer key says the FTP helper did in a capture.
type expected struct {
	states  map[int]string
	drops   []int // frames the helper dropped
	related []int // frames that matched an expectation
	created int   // expectations created ("expect+"), re-arms included
}

func readAnswers(t *testing.T, shared, capture string) expected {
	t.Helper()
	answers, ok := packettest.Answers(t, shared, capture)
	if !ok {
		t.Fatalf("%s: no answers in linux-expected", capture)
	}
	e := expected{states: map[int]string{}}
	for _, a := range answers {
		e.states[a.N] = a.State
		if strings.Contains(a.Note, "nf_ct_ftp: dropping packet") {
			e.drops = append(e.drops, a.N)
		}
		if a.State == "RELATED" {
			e.related = append(e.related, a.N)
		}
		e.created += strings.Count(a.Note, "expect+")
	}
	return e
}

// ctlConn is the stand-in tracker's view of one TCP connection.
type ctlConn struct {
	orig      packet.Tuple
	ftp       bool // a helper is attached (server port 21)
	seenReply bool
	closed    bool // RST or FIN seen: a new SYN starts a new connection
	state     alg.ConnState
}

func reverse(t packet.Tuple) packet.Tuple {
	t.Src, t.Dst = t.Dst, t.Src
	t.SrcPort, t.DstPort = t.DstPort, t.SrcPort
	return t
}

// replayResult is what the helper did in a capture.
type replayResult struct {
	drops   []int
	related []int
	stats   alg.ExpectStats
}

// replay drives the helper with a minimal stand-in for the connection
// tracker: TCP connections are tracked by tuple; a helper is attached
// to those whose server port is 21; Inspect sees packets of control
// connections once a reply was seen (ESTABLISHED), except those Linux
// itself called INVALID (its TCP window checks are the tracker's
// business, not this test's); the first packet (a SYN) of an unknown
// connection asks the expectation table.
func replay(t *testing.T, path string, states map[int]string) replayResult {
	t.Helper()
	// Reading stops at the first damaged record.
	frames, err := packettest.ReadFrames(path)
	if err != nil && len(frames) == 0 {
		t.Fatalf("%s: %v", path, err)
	}
	x := alg.NewExpectations(64)
	h := New(x, Config{})
	conns := map[packet.Tuple]*ctlConn{}
	var res replayResult
	var p packet.Parsed
	var t0 int64
	for i, f := range frames {
		n := i + 1
		if n == 1 {
			t0 = f.Millis()
		}
		now := uint32(f.Millis() - t0)
		if packet.Parse(f.Data, f.Link, &p) != packet.ReasonNone || p.Tuple.Proto != packet.ProtoTCP || p.Fragment.Is {
			continue
		}
		syn := p.TCP.Flags&(packet.TCPSyn|packet.TCPAck|packet.TCPRst) == packet.TCPSyn
		dir := ctstate.Original
		c := conns[p.Tuple]
		if c == nil {
			if c = conns[reverse(p.Tuple)]; c != nil {
				dir = ctstate.Reply
			}
		}
		if c != nil && c.closed && syn && dir == ctstate.Original {
			if c.ftp {
				x.RemoveMaster(c.orig)
			}
			delete(conns, c.orig)
			c = nil
		}
		if c == nil {
			if syn && x.Match(now, &p.Tuple) {
				res.related = append(res.related, n)
			}
			c = &ctlConn{orig: p.Tuple, ftp: p.Tuple.DstPort == DefaultPort}
			conns[p.Tuple] = c
		}
		if dir == ctstate.Reply {
			c.seenReply = true
		}
		if p.TCP.Flags&(packet.TCPRst|packet.TCPFin) != 0 {
			c.closed = true
		}
		if !c.ftp || !c.seenReply {
			continue
		}
		if s := states[n]; s == "INVALID" || s == "NONE" {
			continue
		}
		pk := alg.Packet{Parsed: &p, Dir: dir, Orig: c.orig, State: &c.state, Now: now}
		if reason := h.Inspect(&pk); reason != packet.ReasonNone {
			res.drops = append(res.drops, n)
		}
	}
	res.stats = x.Stats()
	return res
}

func TestCapturesMatchLinux(t *testing.T) {
	dir := packettest.SharedDir(t)
	var captures []string
	for _, pat := range []string{"alg-ftp-*.pcap", "fuzz-ftp-*.pcap"} {
		m, err := filepath.Glob(filepath.Join(dir, "pcaps", "*", pat))
		if err != nil {
			t.Fatal(err)
		}
		captures = append(captures, m...)
	}
	if len(captures) == 0 {
		t.Fatalf("no FTP captures under %s", dir)
	}
	slices.Sort(captures)
	for _, pcap := range captures {
		rel, _ := filepath.Rel(filepath.Join(dir, "pcaps"), pcap)
		t.Run(strings.TrimSuffix(rel, ".pcap"), func(t *testing.T) {
			want := readAnswers(t, dir, rel)
			got := replay(t, pcap, want.states)
			if !slices.Equal(got.drops, want.drops) {
				t.Errorf("helper drops %v, Linux dropped %v", got.drops, want.drops)
			}
			if !slices.Equal(got.related, want.related) {
				t.Errorf("RELATED %v, Linux %v", got.related, want.related)
			}
			if int(got.stats.Created) != want.created {
				t.Errorf("created %d expectations, Linux %d", got.stats.Created, want.created)
			}
			t.Logf("drops %v related %d created %d rearmed %d replaced %d refused %v",
				got.drops, len(got.related), got.stats.Created, got.stats.Rearmed, got.stats.Replaced, got.stats.Refused)
		})
	}
}
