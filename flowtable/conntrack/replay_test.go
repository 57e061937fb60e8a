package conntrack

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/statewall/statewall/alg"
	"github.com/statewall/statewall/alg/ftp"
	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/dataplane/packet/packettest"
	"github.com/statewall/statewall/flowtable/ctstate"
)

// clockMode is the replay clock.
type clockMode int

const (
	clockOracle  clockMode = iota // 2 ms per frame, as the answer key was recorded
	clockCapture                  // the capture's timestamps
)

// mismatch is one frame where the tracker and Linux disagree.
type mismatch struct {
	n           int
	got, want   string
	reason, tcp string
	note        string
}

// replayCapture tracks every frame of a capture and compares each frame's
// state with Linux's answer. Fragments are skipped (conntrack sees
// reassembled datagrams; reassembly is the pipeline's).
func replayCapture(t *testing.T, capPath string, answers []packettest.Answer, mode clockMode) (compared int, bad []mismatch) {
	t.Helper()
	// A capture damaged partway is compared up to the damage.
	frames, err := packettest.ReadFrames(capPath)
	if err != nil && len(frames) == 0 {
		t.Fatalf("%s: %v", capPath, err)
	}
	opts := DefaultOptions()
	opts.Capacity4, opts.Capacity6 = 1<<16, 1<<14
	x := alg.NewExpectations(1024)
	tr, err := New(opts, x, []HelperBinding{{Proto: packet.ProtoTCP, Port: ftp.DefaultPort, Helper: ftp.New(x, ftp.Config{})}})
	if err != nil {
		t.Fatal(err)
	}
	var p packet.Parsed
	var r Result
	var t0 int64
	for i, a := range answers {
		if i >= len(frames) {
			bad = append(bad, mismatch{n: a.N, got: "(missing frame)", want: a.State})
			continue
		}
		f := frames[i]
		var now uint32
		switch mode {
		case clockOracle:
			now = uint32(1000 + 2*i)
		case clockCapture:
			if i == 0 {
				t0 = f.TS
			}
			now = uint32(1000 + (f.TS-t0)/1e6)
		}
		got := "NONE"
		var reason packet.DropReason
		var tcpState TCPState
		// As replay parses: the answer key injected captures of ::1
		// traffic on lo.
		if pr := packet.ParseWith(f.Data, f.Link, packet.Options{Loopback: true}, &p); pr != packet.ReasonNone {
			if !pr.IPLayerDrop() {
				got, reason = "INVALID", pr
			}
		} else if p.Fragment.Is && (p.Fragment.Offset != 0 || p.Fragment.More) {
			continue // held for reassembly: the pipeline's, not the tracker's
		} else {
			tr.Track(now, &p, tr.Hash(&p), &r)
			got, reason, tcpState = r.State.String(), r.Reason, r.TCPState
			if r.State != ctstate.Invalid {
				// The answer key's ruleset accepts everything.
				_ = tr.Confirm(now, &p, &r)
			}
		}
		compared++
		if got != a.State {
			bad = append(bad, mismatch{n: a.N, got: got, want: a.State, reason: reason.String(), tcp: tcpState.String(), note: a.Note})
		}
	}
	return compared, bad
}

// replayExcluded says why a capture is left out of the strict comparison.
func replayExcluded(name string) string {
	_ = name
	return ""
}

// TestReplayLinuxAnswers replays every shared capture (except FTP and
// fragment captures, which need the ALG and reassembly) with the answer
// key's timing and requires Linux's state on every frame.
func TestReplayLinuxAnswers(t *testing.T) {
	dir := packettest.SharedDir(t)
	for _, rel := range packettest.Captures(t, dir) {
		name := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(rel, ".gz"), ".pcap"), ".pcapng")
		answers, ok := packettest.Answers(t, dir, rel)
		if !ok {
			continue
		}
		t.Run(name, func(t *testing.T) {
			if why := replayExcluded(name); why != "" {
				t.Skip(why)
			}
			n, bad := replayCapture(t, filepath.Join(dir, "pcaps", rel), answers, clockOracle)
			for i, m := range bad {
				if i == 20 {
					t.Errorf("... %d more", len(bad)-20)
					break
				}
				t.Errorf("frame %d: got %s (%s %s), Linux %s (%s)", m.n, m.got, m.reason, m.tcp, m.want, m.note)
			}
			t.Logf("%d frames compared, %d mismatches", n, len(bad))
		})
	}
}

// TestReplayCaptureClock replays the same captures with their own
// timestamps as the clock and reports (without failing) where timeouts
// that the answer key's 2 ms spacing never reached change a state.
func TestReplayCaptureClock(t *testing.T) {
	dir := packettest.SharedDir(t)
	total := 0
	for _, rel := range packettest.Captures(t, dir) {
		answers, ok := packettest.Answers(t, dir, rel)
		if !ok || replayExcluded(rel) != "" {
			continue
		}
		_, bad := replayCapture(t, filepath.Join(dir, "pcaps", rel), answers, clockCapture)
		total += len(bad)
		for i, m := range bad {
			if i == 5 {
				t.Logf("%s: ... %d more", rel, len(bad)-5)
				break
			}
			t.Logf("%s frame %d: got %s (%s %s), Linux (2 ms spacing) %s", rel, m.n, m.got, m.reason, m.tcp, m.want)
		}
	}
	t.Logf("capture-clock differences from the 2 ms answer key: %d frames", total)
	_ = fmt.Sprint()
}
