package pipeline_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/statewall/statewall/config/configtest"
	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/dataplane/packet/packettest"
	"github.com/statewall/statewall/dataplane/pipeline"
	"github.com/statewall/statewall/dataplane/port"
	"github.com/statewall/statewall/dataplane/port/memport"
	"github.com/statewall/statewall/flowtable/ctstate"
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
// direction, verdict and rule for every packet; with transport checksums
// verified and without.
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
			for _, verify := range []bool{false, true} {
				testFastAgrees(t, fmt.Sprintf("%s/%s/checksum=%v", rel, name, verify), rulesText, frames, verify, &hits)
			}
		}
	}
}

// testFastAgrees is one run of TestFastPathAgreesWithGeneralPath: the
// frames under rulesText, checksums verified or not.
func testFastAgrees(t *testing.T, name, rulesText string, frames [][]byte, verify bool, hits *uint64) {
	t.Run(name, func(t *testing.T) {
		run := func(noFast, observe bool) ([]record, *pipeline.Counters) {
			rec := &recorder{}
			var obs pipeline.Observer
			if observe {
				obs = rec
			}
			w, _, _, _ := newWorker(t, rulesText, frames, pipeline.Config{Burst: 32, NoVerdictCache: noFast, VerifyChecksums: verify}, obs, false)
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
		*hits += fastCounters.CacheHits
		// Unobserved, the fast path counts accepted packets once
		// per burst: the same counters.
		if _, unobserved := run(false, false); !reflect.DeepEqual(unobserved, fastCounters) {
			t.Errorf("unobserved counters\n%+v\nobserved\n%+v", unobserved, fastCounters)
		}
		sameOutcomes(t, "fast path", fast, "general path", general)
	})
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
	// Each conversation's fourth frame again, its transport checksum
	// damaged (INVALID where checksums are verified; a retransmission
	// where not).
	for j, c := range convs {
		bad := bytes.Clone(c[3])
		l4, proto := packet.TCP4Off, bad[packet.EthernetSize+9]
		if binary.BigEndian.Uint16(bad[12:]) == packet.EtherTypeIPv6 {
			l4, proto = packet.L4Off6, bad[packet.EthernetSize+6]
		}
		if proto == packet.ProtoUDP {
			bad[l4+6] ^= 0x01 // the checksum's top byte
		} else {
			bad[l4+4] ^= 0x01 // the sequence number's top byte
		}
		convs[j] = append(c[:4:4], append([][]byte{bad}, c[4:]...)...)
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

// TestNICVerifiedChecksums runs a connection whose data segments carry
// wrong checksums (TCP, and the IPv4 header's) through workers that
// verify checksums, fast path and general path: frames a NIC marked as
// verified are taken as they are (the NIC's word, as Linux takes
// CHECKSUM_UNNECESSARY); unmarked, the wrong transport checksum makes the
// segment INVALID and the wrong header checksum drops it as ip_rcv does.
func TestNICVerifiedChecksums(t *testing.T) {
	rulesText := configtest.Ports + configtest.Stateful + `
[[rule]]
name = "web"
ct_state = "NEW"
proto = "tcp"
dport = [80]
action = "accept"
`
	conn := packettest.Handshake(ap("198.18.0.1:40000"), ap("198.19.0.2:80"), 6)
	var frames [][]byte
	var marks []port.Verified
	// Segments 4 and 6 (after the handshake) with a wrong TCP checksum,
	// 5 and 7 with a wrong IPv4 header checksum.
	for i, f := range conn {
		f = bytes.Clone(f)
		var v port.Verified
		switch {
		case i >= 3 && i < 7 && i%2 == 1:
			f[packet.TCP4Off+16] ^= 0x10
			v = port.VerifiedL4
		case i >= 3 && i < 7:
			f[packet.EthernetSize+10] ^= 0x10
			v = port.VerifiedIPv4
		}
		frames, marks = append(frames, f), append(marks, v)
	}
	for _, noFast := range []bool{false, true} {
		for _, marked := range []bool{true, false} {
			var opts []memport.Option
			if marked {
				opts = append(opts, memport.Verified(marks))
			}
			w, _, out, _ := newWorker(t, rulesText, frames, pipeline.Config{Burst: 32, NoVerdictCache: noFast, VerifyChecksums: true}, nil, true, opts...)
			for !w.Done() {
				w.Poll()
			}
			var c pipeline.Counters
			w.Publish()
			w.Snapshot(&c)
			want, invalid, badHeader := len(frames), uint64(0), uint64(0)
			if !marked {
				want, invalid, badHeader = len(frames)-4, 2, 2
			}
			if got := len(out.Sent()); got != want || c.ByState[ctstate.Invalid] != invalid ||
				c.ByReason[packet.ReasonIPv4BadChecksum] != badHeader {
				t.Errorf("fast path off %v, marked %v: forwarded %d of %d (want %d), %d INVALID (want %d), %d bad IPv4 header sums (want %d)",
					noFast, marked, got, len(frames), want, c.ByState[ctstate.Invalid], invalid, c.ByReason[packet.ReasonIPv4BadChecksum], badHeader)
			}
		}
	}
}
