package pipeline_test

import (
	"path/filepath"
	"reflect"
	"testing"

	"github.com/statewall/statewall/config/configtest"
	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/dataplane/packet/packettest"
	"github.com/statewall/statewall/dataplane/pipeline"
)

// fastRulesets are the rulesets the fast path is compared under: every
// verdict the policy's (cached accepts), and cached drops of ESTABLISHED
// replies from web servers (TCP) or DNS servers (UDP) beside cached
// accepts.
var fastRulesets = map[string]string{
	"accept": configtest.Ports + `
[policy]
forward = "accept"
`,
	"drop-web-replies": configtest.Ports + `
[policy]
forward = "accept"

[[rule]]
name = "no-web-replies"
ct_state = "ESTABLISHED"
ct_direction = "reply"
proto = "tcp"
sport = [80, 443]
action = "drop"
`,
	"drop-dns-replies": configtest.Ports + `
[policy]
forward = "accept"

[[rule]]
name = "no-dns-replies"
ct_state = "ESTABLISHED"
ct_direction = "reply"
proto = "udp"
sport = [53]
action = "drop"
`,
}

// TestFastPathAgreesWithGeneralPath replays every shared Ethernet capture
// through a worker that takes the fast path (verdicts cached) and one
// that cannot (NoVerdictCache turns it off), and expects the same state,
// direction, verdict and rule for every packet.
func TestFastPathAgreesWithGeneralPath(t *testing.T) {
	shared := packettest.SharedDir(t)
	var hits uint64 // the fast run's cached verdicts: packets the fast path may take
	defer func() {
		t.Logf("%d cached verdicts in the fast runs", hits)
		if !t.Failed() && hits < 1000 {
			t.Errorf("only %d cached verdicts: the fast path was hardly exercised", hits)
		}
	}()
	for _, rel := range packettest.Captures(t, shared) {
		var frames [][]byte
		read, _ := packettest.ReadFrames(filepath.Join(shared, "pcaps", rel)) // what a broken capture holds before the break
		for _, f := range read {
			if f.Link == packet.LinkEthernet {
				frames = append(frames, f.Data)
			}
		}
		if len(frames) == 0 {
			continue
		}
		for name, rulesText := range fastRulesets {
			t.Run(rel+"/"+name, func(t *testing.T) {
				run := func(noFast, observe bool) ([]record, *pipeline.Counters) {
					rec := &recorder{}
					var obs pipeline.Observer
					if observe {
						obs = rec
					}
					w, _, _, _ := newWorker(t, rulesText, frames, pipeline.Config{Burst: 32, NoVerdictCache: noFast}, obs, false)
					for !w.Done() {
						w.Poll()
					}
					var c pipeline.Counters
					w.Publish()
					w.Snapshot(&c)
					return rec.got, &c
				}
				fast, fastCounters := run(false, true)
				general, _ := run(true, true)
				hits += fastCounters.CacheHits
				// Unobserved, the fast path counts accepted packets once
				// per burst: the same counters.
				if _, unobserved := run(false, false); !reflect.DeepEqual(unobserved, fastCounters) {
					t.Errorf("unobserved counters\n%+v\nobserved\n%+v", unobserved, fastCounters)
				}
				if len(fast) != len(general) {
					t.Fatalf("%d vs %d outcomes", len(fast), len(general))
				}
				for i := range fast {
					if fast[i] != general[i] {
						t.Fatalf("packet %d: fast path %+v, general path %+v", i+1, fast[i], general[i])
					}
				}
			})
		}
	}
}
