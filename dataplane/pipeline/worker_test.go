package pipeline_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/statewall/statewall/config"
	"github.com/statewall/statewall/config/configtest"
	"github.com/statewall/statewall/config/rules"
	"github.com/statewall/statewall/dataplane/engine"
	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/dataplane/packet/packettest"
	"github.com/statewall/statewall/dataplane/pipeline"
	"github.com/statewall/statewall/dataplane/port"
	"github.com/statewall/statewall/dataplane/port/memport"
	"github.com/statewall/statewall/flowtable/ctstate"
)

const testRules = configtest.Ports + configtest.Stateful + `
[[rule]]
name = "web"
ct_state = "NEW"
proto = "tcp"
dport = 80
action = "accept"

[[rule]]
name = "dns"
ct_state = "NEW"
proto = "udp"
dport = 53
action = "accept"

[[rule]]
name = "ping"
ct_state = "NEW"
proto = "icmp"
action = "accept"

[[rule]]
name = "ident"
ct_state = "NEW"
proto = ["tcp", "udp"]
dport = 113
action = "reject"
`

type fixedClock struct{ now uint32 }

func (c *fixedClock) NowMillis() uint32 { return c.now }

type record struct {
	verdict pipeline.Verdict
	rule    int
	state   ctstate.State
	dir     ctstate.Dir
}

type recorder struct{ got []record }

// sameOutcomes fails t at the first packet whose outcome differs between
// two runs of the same frames, a and b (named as the runs are).
func sameOutcomes(t testing.TB, nameA string, a []record, nameB string, b []record) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%d vs %d outcomes", len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("packet %d: %s %+v, %s %+v", i+1, nameA, a[i], nameB, b[i])
		}
	}
}

func (r *recorder) Observe(o *pipeline.Outcome) {
	r.got = append(r.got, record{o.Verdict, o.Rule, o.State, o.Dir})
}

// newWorker builds a worker forwarding from a port "lan" that delivers
// frames (with opts) to a port "wan" (recording what it is sent when record
// is set), and returns the worker, both ports and the worker's ruleset.
func newWorker(t testing.TB, rulesText string, frames [][]byte, cfg pipeline.Config, obs pipeline.Observer, record bool, opts ...memport.Option) (w *pipeline.Worker, in, out *memport.Port, rs *atomic.Pointer[rules.Ruleset]) {
	t.Helper()
	in = memport.New("lan", frames, opts...)
	var outOpts []memport.Option
	if record {
		outOpts = append(outOpts, memport.Record())
	}
	out = memport.New("wan", nil, outOpts...)
	w, rs = newWorkerOn(t, rulesText, in, out, cfg, obs)
	return w, in, out, rs
}

// newWorkerOn builds a worker forwarding from in to out.
func newWorkerOn(t testing.TB, rulesText string, in, out port.Port, cfg pipeline.Config, obs pipeline.Observer) (*pipeline.Worker, *atomic.Pointer[rules.Ruleset]) {
	t.Helper()
	c, err := config.Parse("test.toml", []byte(rulesText))
	if err != nil {
		t.Fatal(err)
	}
	shared, tr, err := engine.NewSingle(c)
	if err != nil {
		t.Fatal(err)
	}
	w := pipeline.NewWorker(cfg, []pipeline.Binding{{In: in, Out: out}}, tr, shared.Ruleset, &fixedClock{now: 1000}, obs)
	return w, shared.Ruleset
}

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// flows returns the frames of n TCP connections to port 80 with data.
func flows(n, segments int) [][]byte {
	var out [][]byte
	for i := 0; i < n; i++ {
		c := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}), uint16(10000+i))
		out = append(out, packettest.Handshake(c, ap("198.19.0.2:80"), segments)...)
	}
	return out
}

func TestWorkerForwardsAllowedAndDropsTheRest(t *testing.T) {
	frames := flows(2, 3)
	frames = append(frames,
		packettest.Frame(packettest.Spec{Src: ap("198.18.0.9:1234"), Dst: ap("198.19.0.2:22"), Proto: "tcp", Flags: packettest.SYN, Seq: 1}),
		packettest.Frame(packettest.Spec{Src: ap("198.18.0.9:1234"), Dst: ap("198.19.0.2:80"), Proto: "tcp", Flags: packettest.SYN | packettest.ACK, Seq: 1}),
		packettest.Frame(packettest.Spec{Src: ap("198.18.0.9:1234"), Dst: ap("198.19.0.2:53"), Proto: "udp"}),
		packettest.Frame(packettest.Spec{Src: ap("198.19.0.2:53"), Dst: ap("198.18.0.9:1234"), Proto: "udp"}),
	)
	rec := &recorder{}
	w, _, out, _ := newWorker(t, testRules, frames, pipeline.Config{Burst: 4}, rec, true)
	for !w.Done() {
		w.Poll()
	}
	w.Publish()
	want := 2*9 + 2 // both connections and the DNS exchange pass
	if got := len(out.Sent()); got != want {
		t.Errorf("forwarded %d frames, want %d", got, want)
	}
	n := len(rec.got)
	tail := rec.got[n-4:]
	if tail[0].verdict != pipeline.VerdictDrop || tail[0].state != ctstate.New {
		t.Errorf("SYN to port 22: %+v, want a dropped NEW", tail[0])
	}
	if tail[1].verdict != pipeline.VerdictDrop || tail[1].state != ctstate.Invalid {
		t.Errorf("stray SYN|ACK: %+v, want a dropped INVALID", tail[1])
	}
	if tail[3].state != ctstate.Established || tail[3].dir != ctstate.Reply {
		t.Errorf("DNS answer: %+v, want ESTABLISHED reply", tail[3])
	}
	var c pipeline.Counters
	w.Snapshot(&c)
	if c.Packets != uint64(len(frames)) || c.ByVerdict[pipeline.VerdictAccept] != uint64(want) {
		t.Errorf("counters: packets %d accepted %d, want %d and %d", c.Packets, c.ByVerdict[pipeline.VerdictAccept], len(frames), want)
	}
	var rulePackets uint64
	for _, v := range c.RulePackets {
		rulePackets += v
	}
	if rulePackets != uint64(len(frames)) {
		t.Errorf("rule counters sum to %d, want %d", rulePackets, len(frames))
	}
}

// inPlacePort is a memport that receives into an array of its own
// (port.InPlace), as a DPDK queue does, and wipes it before each receive:
// a frame the worker kept past its burst would read as empty.
type inPlacePort struct {
	*memport.Port
	own   [8]port.Frame
	calls int
}

func (p *inPlacePort) RxInPlace(queue, max int) []port.Frame {
	p.calls++
	clear(p.own[:])
	return p.own[:p.RxBurst(queue, p.own[:min(max, len(p.own))])]
}

// TestWorkerInPlace runs the same traffic from a port that receives into
// the worker's frames and from one that receives in place: the same
// frames leave, with the same verdicts.
func TestWorkerInPlace(t *testing.T) {
	frames := flows(3, 4)
	frames = append(frames,
		packettest.Frame(packettest.Spec{Src: ap("198.18.0.9:1234"), Dst: ap("198.19.0.2:22"), Proto: "tcp", Flags: packettest.SYN, Seq: 1}),
		packettest.Frame(packettest.Spec{Src: ap("198.18.0.9:1234"), Dst: ap("198.19.0.2:53"), Proto: "udp"}),
		packettest.Frame(packettest.Spec{Src: ap("198.19.0.2:53"), Dst: ap("198.18.0.9:1234"), Proto: "udp"}),
	)
	run := func(inPlace bool) ([][]byte, []record) {
		var in port.Port = memport.New("lan", frames)
		if inPlace {
			in = &inPlacePort{Port: in.(*memport.Port)}
		}
		out := memport.New("wan", nil, memport.Record())
		rec := &recorder{}
		w, _ := newWorkerOn(t, testRules, in, out, pipeline.Config{Burst: 8}, rec)
		for !w.Done() {
			w.Poll()
		}
		if p, ok := in.(*inPlacePort); ok && p.calls == 0 {
			t.Fatal("the worker never received in place")
		}
		return out.Sent(), rec.got
	}
	wantSent, wantRec := run(false)
	gotSent, gotRec := run(true)
	if len(gotSent) != len(wantSent) || len(gotRec) != len(wantRec) {
		t.Fatalf("in place: %d frames sent, %d outcomes; want %d and %d", len(gotSent), len(gotRec), len(wantSent), len(wantRec))
	}
	for i := range wantSent {
		if !bytes.Equal(gotSent[i], wantSent[i]) {
			t.Errorf("frame %d sent: % x, want % x", i, gotSent[i], wantSent[i])
		}
	}
	for i := range wantRec {
		if gotRec[i] != wantRec[i] {
			t.Errorf("outcome %d: %+v, want %+v", i, gotRec[i], wantRec[i])
		}
	}
}

// TestVerdictCacheAgreesWithClassifier runs the same mixed traffic with and
// without the per-flow verdict cache, across ruleset reloads, and expects
// the same verdict and rule for every packet.
func TestVerdictCacheAgreesWithClassifier(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	var frames [][]byte
	conns := flows(20, 5)
	// Interleave connections so cached and uncached packets mix.
	rnd.Shuffle(len(conns)/11, func(i, j int) {
		for k := 0; k < 11; k++ {
			conns[i*11+k], conns[j*11+k] = conns[j*11+k], conns[i*11+k]
		}
	})
	frames = append(frames, conns...)
	alt := strings.Replace(testRules, `[[rule]]
name = "established"`, `[[rule]]
name = "reply-only"
ct_state = "ESTABLISHED"
ct_direction = "reply"
proto = "tcp"
dport = 10005
action = "drop"

[[rule]]
name = "established"`, 1)
	run := func(cache bool) []record {
		rec := &recorder{}
		w, _, _, ptr := newWorker(t, testRules, frames, pipeline.Config{Burst: 8, NoVerdictCache: !cache}, rec, false)
		other, err := config.Parse("alt.toml", []byte(alt))
		if err != nil {
			t.Fatal(err)
		}
		gen := uint64(2)
		for polls := 0; !w.Done(); polls++ {
			if polls%3 == 2 { // reload: alternate rulesets
				var rs *rules.Ruleset
				if gen%2 == 0 {
					rs, err = rules.Compile(other, gen)
				} else {
					rs, err = rules.Compile(ptr.Load().Config(), gen)
				}
				if err != nil {
					t.Fatal(err)
				}
				ptr.Store(rs)
				gen++
			}
			w.Poll()
		}
		return rec.got
	}
	sameOutcomes(t, "with cache", run(true), "without", run(false))
}

// TestWorkerZeroAllocs checks that a burst of established traffic through
// the whole pipeline (parse, track, classify, forward) allocates nothing.
func TestWorkerZeroAllocs(t *testing.T) {
	for _, cache := range []bool{true, false} {
		t.Run(fmt.Sprintf("cache=%v", cache), func(t *testing.T) {
			frames := flows(64, 4)
			w, _, _, _ := newWorker(t, testRules, frames, pipeline.Config{Burst: 32, NoVerdictCache: !cache}, nil, false, memport.Loop())
			for i := 0; i < 200; i++ { // set up every connection, warm the counters
				w.Poll()
			}
			if a := testing.AllocsPerRun(200, func() { w.Poll() }); a != 0 {
				t.Errorf("%v allocations per burst, want 0", a)
			}
		})
	}
}

func BenchmarkWorkerEstablished(b *testing.B) {
	for _, n := range []int{100, 10000} {
		b.Run(fmt.Sprintf("flows=%d", n), func(b *testing.B) {
			all := flows(n, 4)
			w, _, _, _ := newWorker(b, testRules, all, pipeline.Config{Burst: 32}, nil, false, memport.Loop())
			for i := 0; i < len(all)/32+2; i++ {
				w.Poll()
			}
			b.ReportAllocs()
			b.ResetTimer()
			pkts := 0
			for i := 0; i < b.N; i++ {
				pkts += w.Poll()
			}
			b.ReportMetric(float64(pkts)/b.Elapsed().Seconds()/1e6, "Mpps")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(pkts), "ns/pkt")
		})
	}
}

// TestRejectAnswersWithinTheRate checks that REJECT answers a TCP SYN with
// a RST and a UDP datagram with an ICMP port unreachable, back out of the
// port they came in by, and that the rate limit holds back the rest.
func TestRejectAnswersWithinTheRate(t *testing.T) {
	var frames [][]byte
	for i := 0; i < 10; i++ {
		frames = append(frames,
			packettest.Frame(packettest.Spec{Src: ap("198.18.0.9:4000"), Dst: ap("198.19.0.2:113"), Proto: "tcp", Flags: packettest.SYN, Seq: uint32(i)}),
			packettest.Frame(packettest.Spec{Src: ap("[fd00::9]:4000"), Dst: ap("[fd00::2]:113"), Proto: "udp"}))
	}
	w, in, out, _ := newWorker(t, testRules, frames, pipeline.Config{Burst: 32, RejectRate: 1, RejectBurst: 4}, nil, true, memport.Record())
	for !w.Done() {
		w.Poll()
	}
	w.Publish()
	if len(out.Sent()) != 0 {
		t.Errorf("%d rejected frames forwarded", len(out.Sent()))
	}
	replies := in.Sent()
	if len(replies) != 4 {
		t.Fatalf("%d replies, want the burst of 4", len(replies))
	}
	var p packet.Parsed
	if packet.Parse(replies[0], packet.LinkEthernet, &p) != packet.ReasonNone || p.TCP.Flags&packet.TCPRst == 0 {
		t.Errorf("first reply is not a RST: %+v", p.TCP)
	}
	if packet.Parse(replies[1], packet.LinkEthernet, &p) != packet.ReasonNone || !p.ICMP.IsError || p.Tuple.Proto != packet.ProtoICMPv6 {
		t.Errorf("second reply is not an ICMPv6 error: %+v", p.ICMP)
	}
	var cnt pipeline.Counters
	w.Snapshot(&cnt)
	if cnt.RejectsSent != 4 || cnt.RejectsLimited != 16 || cnt.ByVerdict[pipeline.VerdictReject] != 20 {
		t.Errorf("rejects sent %d, limited %d, verdicts %d; want 4, 16, 20", cnt.RejectsSent, cnt.RejectsLimited, cnt.ByVerdict[pipeline.VerdictReject])
	}
}

// TestLoggedRulesReachTheLogChannel checks that packets decided by a rule
// with log = true are handed to the log channel, never blocking the
// worker: once the channel is full the rest are dropped and counted.
func TestLoggedRulesReachTheLogChannel(t *testing.T) {
	rulesText := strings.Replace(testRules, `name = "dns"`, `name = "dns"
log = true`, 1)
	var frames [][]byte
	for i := 0; i < 5; i++ {
		frames = append(frames, packettest.Frame(packettest.Spec{Src: ap("198.18.0.9:4000"), Dst: ap("198.19.0.2:53"), Proto: "udp", Seq: uint32(i)}))
		frames = append(frames, packettest.Frame(packettest.Spec{Src: netip.AddrPortFrom(netip.MustParseAddr("198.18.0.10"), uint16(4000+i)), Dst: ap("198.19.0.2:53"), Proto: "udp"}))
	}
	logCh := make(chan pipeline.LogRecord, 3)
	w, _, _, _ := newWorker(t, rulesText, frames, pipeline.Config{Burst: 32, Log: logCh}, nil, false)
	for !w.Done() {
		w.Poll()
	}
	w.Publish()
	var c pipeline.Counters
	w.Snapshot(&c)
	// All ten datagrams are NEW (no flow saw a reply, as in Linux) and
	// match the logging rule: three fit the channel.
	if c.Logged != 3 || c.LogDropped != 7 {
		t.Errorf("logged %d, dropped %d; want 3 and 7", c.Logged, c.LogDropped)
	}
	r := <-logCh
	if r.Rule != 3 || r.State != ctstate.New || r.Verdict != pipeline.VerdictAccept || r.Tuple.DstPort != 53 {
		t.Errorf("log record %+v", r)
	}
}
