package rules

import (
	"strings"
	"testing"

	"github.com/statewall/statewall/config"
	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/flowtable/ctstate"
)

// TestClassifyMatchesLinear is the property test: on random rulesets of
// 1..5000 rules, Classify and NoTrack agree with the linear reference on
// every one of more than 100k random packets, Cacheable included.
func TestClassifyMatchesLinear(t *testing.T) {
	sizes := []int{0, 1, 2, 3, 5, 8, 13, 63, 64, 65, 127, 128, 129, 200, 500, 1000, 2500, 5000}
	perSet := 8000
	if testing.Short() {
		perSet = 1000
	}
	total, hits, uncacheable, depth, trees := 0, 0, 0, 0, 0
	for i, n := range sizes {
		g := newGen(uint64(i+1)*7919, i%4)
		cfg := shapeConfig(g, shapes[i%len(shapes)], n)
		rs, err := Compile(cfg, uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		// The same ruleset without its tree exercises the bit-vector scan.
		scan := *rs
		scan.filter = buildWith(cfg.Rules, len(cfg.Ports), false)
		if rs.filter.tree != nil {
			trees++
		}
		var p packet.Parsed
		for j := 0; j < perSet; j++ {
			st, dir, in := g.packet(cfg, &p)
			got := rs.Classify(&p, st, dir, in)
			want := rs.ClassifyLinear(&p, st, dir, in)
			if s := scan.Classify(&p, st, dir, in); s != want {
				t.Fatalf("ruleset %d (%d rules) packet %d, bit-vector scan: got %+v want %+v", i, n, j, s, want)
			}
			total++
			if got.Rule != NoRule {
				hits++
				depth += int(got.Rule)
			}
			if !got.Cacheable {
				uncacheable++
			}
			if got != want {
				t.Fatalf("ruleset %d (%d rules) packet %d: %+v state %v dir %v in %d vlan %v icmp %+v flags %#x:\n got %+v\nwant %+v",
					i, n, j, p.Tuple, st, dir, in, p.VLAN, p.ICMP.Type, p.TCP.Flags, got, want)
			}
			if a, b := rs.NoTrack(&p, in), rs.NoTrackLinear(&p, in); a != b {
				t.Fatalf("ruleset %d packet %d: NoTrack %v, linear %v", i, j, a, b)
			}
		}
	}
	t.Logf("%d packets over %d rulesets (%d with a tree) agree (%d decided by a rule at mean index %d, %d not cacheable)",
		total, len(sizes), trees, hits, depth/max(hits, 1), uncacheable)
	if !testing.Short() && total < 100000 {
		t.Fatalf("only %d packets", total)
	}
}

func TestClassifyRandomSizes(t *testing.T) {
	g := newGen(42, 2)
	for round := 0; round < 20; round++ {
		n := 1 + g.r.IntN(5000)
		if round%2 == 0 {
			n = 1 + g.r.IntN(100)
		}
		g.specific = round%3 == 0
		cfg := g.config(n)
		rs, _ := Compile(cfg, 1)
		var p packet.Parsed
		for j := 0; j < 2000; j++ {
			st, dir, in := g.packet(cfg, &p)
			if got, want := rs.Classify(&p, st, dir, in), rs.ClassifyLinear(&p, st, dir, in); got != want {
				t.Fatalf("round %d (%d rules) packet %d: got %+v want %+v", round, n, j, got, want)
			}
		}
	}
}

func TestClassifyAllocs(t *testing.T) {
	g := newGen(3, 2)
	cfg := g.config(1000)
	rs, _ := Compile(cfg, 1)
	var ps [64]packet.Parsed
	var sts [64]ctstate.State
	var dirs [64]ctstate.Dir
	var ins [64]uint16
	for i := range ps {
		sts[i], dirs[i], ins[i] = g.packet(cfg, &ps[i])
	}
	allocs := testing.AllocsPerRun(100, func() {
		for i := range ps {
			rs.Classify(&ps[i], sts[i], dirs[i], ins[i])
			rs.NoTrack(&ps[i], ins[i])
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per burst", allocs)
	}
}

func TestSummary(t *testing.T) {
	cfg, err := config.Load("../../deploy/examples/appliance.toml")
	if err != nil {
		t.Fatal(err)
	}
	rs, _ := Compile(cfg, 3)
	var b strings.Builder
	rs.Summary(&b)
	for _, want := range []string{
		"appliance.toml: generation 3, 12 rules, 1 notrack rules, 2 ports, existing connections: recheck\n",
		"  port 1 outside0 device=\"0000:3b:00.1\" role=outside peer=inside0 queues=4 policy=drop\n",
		"  notrack   0 snmp-notrack         proto=udp src=198.18.251.10/32,fd00:251::10/128 dport=161\n",
		"  rule    4 outbound             accept ct_state=NEW in_port=inside0\n",
		"  rule    7 admin-ssh            accept log ct_state=NEW proto=tcp src=198.18.250.0/28,fd00:250::/64 dport=22\n",
		"  decision tree: ",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, b.String())
		}
	}
	if got := rs.Rules()[5]; got.Name != "dmz-web" || got.Verdict != Accept || got.Line == 0 {
		t.Errorf("Rules()[5] = %+v", got)
	}
}

func TestLabRuleset(t *testing.T) {
	cfg, err := config.Load("../../deploy/examples/lab.toml")
	if err != nil {
		t.Fatal(err)
	}
	rs, err := Compile(cfg, 7)
	if err != nil {
		t.Fatal(err)
	}
	v4 := func(b ...byte) (a [16]byte) { copy(a[:], b); return }
	pk := func(proto uint8, dport uint16) *packet.Parsed {
		p := &packet.Parsed{}
		p.Tuple = packet.Tuple{Src: v4(198, 18, 0, 10), Dst: v4(198, 19, 0, 80), SrcPort: 40000, DstPort: dport, Proto: proto, Family: packet.FamilyIPv4}
		return p
	}
	const lan, wan = 0, 1
	name := func(m Match) string {
		if m.Rule == NoRule {
			return rs.PolicyName()
		}
		return rs.Rules()[m.Rule].Name
	}
	echo := pk(packet.ProtoICMP, 0)
	echo.ICMP.Type = 8
	for _, c := range []struct {
		p         *packet.Parsed
		st        ctstate.State
		dir       ctstate.Dir
		in        uint16
		rule      string
		verdict   Verdict
		cacheable bool
	}{
		{pk(packet.ProtoTCP, 80), ctstate.New, ctstate.Original, lan, "http", Accept, true},
		{pk(packet.ProtoTCP, 8080), ctstate.New, ctstate.Original, lan, "http", Accept, true},
		{pk(packet.ProtoTCP, 21), ctstate.New, ctstate.Original, lan, "ftp", Accept, true},
		{pk(packet.ProtoTCP, 22), ctstate.New, ctstate.Original, lan, "policy", Drop, true},
		{pk(packet.ProtoTCP, 80), ctstate.New, ctstate.Original, wan, "policy", Drop, true},
		{pk(packet.ProtoTCP, 80), ctstate.Established, ctstate.Reply, wan, "established", Accept, true},
		{pk(packet.ProtoUDP, 53), ctstate.Related, ctstate.Original, wan, "established", Accept, true},
		{pk(packet.ProtoTCP, 80), ctstate.Invalid, ctstate.Original, lan, "invalid", Drop, true},
		{pk(packet.ProtoTCP, 113), ctstate.New, ctstate.Original, wan, "ident", Reject, true},
		{echo, ctstate.New, ctstate.Original, lan, "ping", Accept, false},
	} {
		m := rs.Classify(c.p, c.st, c.dir, c.in)
		if name(m) != c.rule || m.Verdict != c.verdict || m.Cacheable != c.cacheable {
			t.Errorf("%v dport %d %v in %d: got %s %v cacheable=%v, want %s %v %v",
				c.p.Tuple.Proto, c.p.Tuple.DstPort, c.st, c.in, name(m), m.Verdict, m.Cacheable, c.rule, c.verdict, c.cacheable)
		}
	}
}
