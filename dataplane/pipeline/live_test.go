package pipeline_test

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/statewall/statewall/config"
	"github.com/statewall/statewall/config/rules"
	"github.com/statewall/statewall/dataplane/packet/packettest"
	"github.com/statewall/statewall/dataplane/pipeline"
	"github.com/statewall/statewall/dataplane/port/memport"
	"github.com/statewall/statewall/flowtable/ctstate"
)

// TestReloadAppliesLiveSettings: a reload that changes the conntrack
// timeouts and checksum verification applies them to the traffic that
// follows (an existing connection takes the new timeout at its next
// packet, as with Linux's sysctls); the same traffic without the reload
// keeps the old ones.
func TestReloadAppliesLiveSettings(t *testing.T) {
	client, server := netip.MustParseAddrPort("198.18.0.5:5353"), netip.MustParseAddrPort("198.19.0.2:53")
	query := packettest.Frame(packettest.Spec{Src: client, Dst: server, Proto: "udp", Payload: []byte("q")})
	reply := packettest.Frame(packettest.Spec{Src: server, Dst: client, Proto: "udp", Payload: []byte("a")})
	badSum := packettest.Frame(packettest.Spec{Src: netip.MustParseAddrPort("198.18.0.6:5353"), Dst: server, Proto: "udp", Payload: []byte("q")})
	badSum[14+20+6] ^= 0xff // the UDP checksum
	frames := [][]byte{query, query, reply, badSum}
	// Seconds 1 and 2, then the reply 6 s after the second query.
	stamps := []int64{1e9, 2e9, 8e9, 8e9}
	live := testRules + `
[conntrack]
checksum = true

[conntrack.timeouts]
udp = "5s"
`
	run := func(reload bool) []ctstate.State {
		rec := &recorder{}
		w, _, _, ptr := newWorker(t, testRules, frames, pipeline.Config{Burst: 1, FrameClock: true}, rec, false, memport.Timestamps(stamps))
		w.Poll() // the first query, under the running settings
		if reload {
			cfg, err := config.Parse("live.toml", []byte(live))
			if err != nil {
				t.Fatal(err)
			}
			rs, err := rules.Compile(cfg, 2)
			if err != nil {
				t.Fatal(err)
			}
			ptr.Store(rs)
		}
		for !w.Done() {
			w.Poll()
		}
		var states []ctstate.State
		for _, r := range rec.got {
			states = append(states, r.state)
		}
		return states
	}
	// Without the reload the reply comes within the default 30 s and the
	// bad checksum goes unchecked.
	if got, want := run(false), []ctstate.State{ctstate.New, ctstate.New, ctstate.Established, ctstate.New}; !slices.Equal(got, want) {
		t.Errorf("without the reload: states %v, want %v", got, want)
	}
	// With it the second query sets a 5 s timeout, so the reply finds no
	// connection, and the bad checksum is INVALID.
	if got, want := run(true), []ctstate.State{ctstate.New, ctstate.New, ctstate.New, ctstate.Invalid}; !slices.Equal(got, want) {
		t.Errorf("with the reload: states %v, want %v", got, want)
	}
}
