package conntrack

import (
	"testing"

	"github.com/statewall/statewall/dataplane/packet"
)

// TestFastPathTakesEstablishedSegments checks which segments of a
// conversation FindEstablished4 takes: none before the reply, the data
// and ACKs after it, and SYNs only on an ESTABLISHED connection.
func TestFastPathTakesEstablishedSegments(t *testing.T) {
	tr := newTracker(t, nil)
	conv := seedConversation(t)
	var (
		p packet.Parsed
		s packet.TCP4
		x Established4
		r Result
	)
	now := uint32(1000)
	step := func(frame []byte) bool {
		t.Helper()
		now += 10
		if !packet.ParseTCP4(frame, packet.Options{}, &s) {
			t.Fatal("ParseTCP4 refused a conversation frame")
		}
		tr.BeginTCP4(&s, &x)
		if tr.FindEstablished4(now, &s, &x) {
			tr.TrackEstablished4(now, &s, frame, &x, &r)
			return true
		}
		if packet.Parse(frame, packet.LinkEthernet, &p) != packet.ReasonNone {
			t.Fatal("Parse refused a conversation frame")
		}
		tr.Track(now, &p, x.Hash(), &r)
		return false
	}
	// SYN, SYN/ACK (the connection's first reply), ACK, data, then the
	// client's SYN again (ignored on ESTABLISHED), the server's FIN.
	for i, want := range []bool{false, false, true, true} {
		if got := step(conv[i]); got != want {
			t.Errorf("frame %d: fast path %v, want %v (result %+v)", i, got, want, r)
		}
	}
	if got := step(conv[0]); !got || r.State.String() != "ESTABLISHED" {
		t.Errorf("SYN on an ESTABLISHED connection: fast path %v, result %+v", got, r)
	}
	if got := step(conv[5]); !got {
		t.Errorf("FIN: not on the fast path (result %+v)", r)
	}
}
