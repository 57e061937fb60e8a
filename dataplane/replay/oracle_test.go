package replay

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/statewall/statewall/dataplane/packet/packettest"
	"github.com/statewall/statewall/dataplane/pipeline"
)

// states records each frame's printed state.
type states []string

func (s *states) Observe(o *pipeline.Outcome) { *s = append(*s, StateName(o)) }

// knownDeviations are frames where this firewall deliberately answers
// otherwise than Linux did, keyed by capture; each says why.
var knownDeviations = map[string]string{}

// TestCapturesMatchLinux replays every shared capture with Linux's
// default options and the 2 ms pacing its answers were recorded with, and
// compares every frame's state with linux-expected.
func TestCapturesMatchLinux(t *testing.T) {
	shared := packettest.SharedDir(t)
	caps := packettest.Captures(t, shared)
	if len(caps) < 70 {
		t.Fatalf("found only %d captures in %s", len(caps), shared)
	}
	checked := 0
	for _, c := range caps {
		answers, ok := packettest.Answers(t, shared, c)
		if !ok {
			continue
		}
		checked++
		t.Run(c, func(t *testing.T) {
			if testing.Short() && len(answers) > 5000 {
				t.Skip("large capture in -short mode")
			}
			var got states
			if _, err := File(filepath.Join(shared, "pcaps", c), Options{Observer: &got, Step: 2 * time.Millisecond}); err != nil {
				if _, partial := err.(*ReadError); !partial {
					t.Fatal(err)
				}
			}
			if len(got) != len(answers) {
				t.Errorf("replayed %d frames, Linux saw %d", len(got), len(answers))
			}
			var bad []string
			for i, a := range answers {
				if i >= len(got) {
					break
				}
				if got[i] != a.State {
					bad = append(bad, frameDiff(a, got[i]))
				}
			}
			if len(bad) > 0 {
				if why, ok := knownDeviations[c]; ok {
					t.Skipf("%d frames differ, a known deviation: %s", len(bad), why)
				}
				if len(bad) > 10 {
					bad = append(bad[:10], "...")
				}
				t.Errorf("%d of %d frames differ from Linux:\n%s", len(bad), len(answers), strings.Join(bad, "\n"))
			}
		})
	}
	if checked < 70 {
		t.Errorf("only %d captures have answers", checked)
	}
}

func frameDiff(a packettest.Answer, got string) string {
	note := a.Note
	if len(note) > 100 {
		note = note[:100]
	}
	return "  frame " + itoa(a.N) + ": Linux " + a.State + ", replay " + got + " (" + note + ")"
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
