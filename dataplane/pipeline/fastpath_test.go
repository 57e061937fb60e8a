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
	sets := map[string][][]byte{"crafted/ipv4-ipv6-flows": craftedFlows()}
	for _, rel := range packettest.Captures(t, shared) {
		read, _ := packettest.ReadFrames(filepath.Join(shared, "pcaps", rel)) // what a broken capture holds before the break
		for _, f := range read {
			if f.Link == packet.LinkEthernet {
				sets[rel] = append(sets[rel], f.Data)
			}
		}
	}
	for rel, frames := range sets {
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

// craftedFlows are TCP connections and UDP exchanges over IPv4 and IPv6,
// interleaved, with web and DNS servers (whose replies fastRulesets drop).
func craftedFlows() [][]byte {
	var convs [][][]byte
	for i, pair := range [][2]string{
		{"198.18.0.1:40000", "198.19.0.2:80"}, {"[fd00::1]:40000", "[fd00::2]:80"},
		{"198.18.0.1:40001", "198.19.0.2:22"}, {"[fd00::1]:40001", "[fd00::2]:22"},
		{"[fe80::1]:40002", "[2001:db8::2]:443"},
	} {
		convs = append(convs, packettest.Handshake(ap(pair[0]), ap(pair[1]), 3+i))
	}
	for _, pair := range [][2]string{{"198.18.0.1:5353", "198.19.0.2:53"}, {"[fd00::1]:5353", "[fd00::2]:53"}} {
		c, s := ap(pair[0]), ap(pair[1])
		var ex [][]byte
		for range 4 {
			ex = append(ex, packettest.Frame(packettest.Spec{Src: c, Dst: s, Proto: "udp", Payload: []byte("q")}),
				packettest.Frame(packettest.Spec{Src: s, Dst: c, Proto: "udp", Payload: []byte("a")}))
		}
		convs = append(convs, ex)
	}
	var out [][]byte
	for k := 0; len(convs) > 0; k++ { // round robin over the conversations
		j := k % len(convs)
		out = append(out, convs[j][0])
		if convs[j] = convs[j][1:]; len(convs[j]) == 0 {
			convs = append(convs[:j], convs[j+1:]...)
		}
	}
	return out
}
