package conntrack

import (
	"testing"
	"time"
	"unsafe"

	"github.com/statewall/statewall/alg"
	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/flowtable"
	"github.com/statewall/statewall/flowtable/ctstate"
)

func TestEntryFitsACacheLine(t *testing.T) {
	if s := unsafe.Sizeof(Conn{}); s != 40 {
		t.Errorf("Conn is %d bytes, want 40", s)
	}
	if s := unsafe.Sizeof(Entry4{}); s != 64 {
		t.Errorf("IPv4 entry is %d bytes, want 64", s)
	}
}

func TestUDP(t *testing.T) {
	tr := newTracker(t, nil)
	q := udpPacket(cliAddr, srvAddr, 5353, 53, 30)
	a := udpPacket(srvAddr, cliAddr, 53, 5353, 60)
	tu := q.Tuple
	if r := track(tr, 1000, q); r.State != ctstate.New || !r.Created {
		t.Fatalf("query: %+v", r)
	}
	if e, _ := entryOf(tr, tu); !e.Unreplied || e.Timeout != 30*time.Second {
		t.Fatalf("unreplied: %+v", e)
	}
	if r := track(tr, 1100, a); r.State != ctstate.Established || r.Dir != ctstate.Reply {
		t.Fatalf("answer: %+v", r)
	}
	if r := track(tr, 1200, a); r.State != ctstate.Established {
		t.Fatalf("second answer: %+v", r)
	}
	// Replied but within 2 s of creation: still 30 s, not assured.
	if e, _ := entryOf(tr, tu); e.Unreplied || e.Assured || e.Timeout != 30*time.Second {
		t.Fatalf("replied within 2 s: %+v", e)
	}
	// Traffic 2 s after creation: a stream, assured, 120 s.
	if r := track(tr, 3001, q); r.State != ctstate.Established {
		t.Fatalf("later query: %+v", r)
	}
	if e, _ := entryOf(tr, tu); !e.Assured || e.Timeout != 120*time.Second {
		t.Fatalf("stream: %+v", e)
	}
	// Length checks.
	bad := udpPacket(cliAddr, srvAddr, 1, 2, 10)
	for _, l := range []uint16{5, 7, 19, 1000} {
		bad.UDPLen = l
		if r := track(tr, 4000, bad); r.State != ctstate.Invalid || r.Reason != packet.ReasonUDPBadLength {
			t.Errorf("UDP length %d: %+v", l, r)
		}
	}
}

func TestUDPUnrepliedExpires(t *testing.T) {
	tr := newTracker(t, nil)
	q := udpPacket(cliAddr, srvAddr, 5353, 53, 30)
	track(tr, 1000, q)
	if r := track(tr, 1000+29999, q); r.State != ctstate.New || r.Created {
		t.Fatalf("before the timeout: %+v", r)
	}
	// 30 s after the last packet the entry is gone: a new connection.
	if r := track(tr, 1000+29999+30000, q); r.State != ctstate.New || !r.Created {
		t.Fatalf("after the timeout: %+v", r)
	}
}

func TestICMPEcho(t *testing.T) {
	tr := newTracker(t, nil)
	req := icmpPacket(cliAddr, srvAddr, packet.ICMPEcho, 7)
	rep := icmpPacket(srvAddr, cliAddr, packet.ICMPEchoReply, 7)
	if r := track(tr, 1000, rep); r.State != ctstate.Invalid || r.Reason != packet.ReasonICMPUnsolicited {
		t.Fatalf("unsolicited reply: %+v", r)
	}
	if r := track(tr, 1000, req); r.State != ctstate.New {
		t.Fatalf("request: %+v", r)
	}
	if r := track(tr, 1010, rep); r.State != ctstate.Established || r.Dir != ctstate.Reply {
		t.Fatalf("reply: %+v", r)
	}
	if r := track(tr, 2000, req); r.State != ctstate.Established || r.Dir != ctstate.Original {
		t.Fatalf("second request: %+v", r)
	}
	if r := track(tr, 2000, icmpPacket(cliAddr, srvAddr, packet.ICMPEchoReply, 7)); r.State != ctstate.Invalid {
		t.Fatalf("a reply in the query's direction: %+v", r)
	}
	if e, _ := entryOf(tr, req.Tuple); e.Timeout != 30*time.Second {
		t.Fatalf("timeout: %+v", e)
	}
	// Other queries start entries too; unknown types are INVALID.
	for _, typ := range []uint8{packet.ICMPTimestamp, packet.ICMPInfoRequest, packet.ICMPAddrMask} {
		if r := track(tr, 3000, icmpPacket(cliAddr, srvAddr, typ, uint16(100+typ))); r.State != ctstate.New {
			t.Errorf("query type %d: %+v", typ, r)
		}
	}
	for _, typ := range []uint8{19, 40, 255, 9, 10} {
		if r := track(tr, 3000, icmpPacket(cliAddr, srvAddr, typ, 0)); r.State != ctstate.Invalid || r.Reason != packet.ReasonICMPUnknownType {
			t.Errorf("type %d: %+v", typ, r)
		}
	}
}

func TestICMPv6(t *testing.T) {
	tr := newTracker(t, nil)
	if r := track(tr, 1000, icmpPacket(cli6, srv6, packet.ICMPv6EchoRequest, 9)); r.State != ctstate.New {
		t.Fatalf("echo request: %+v", r)
	}
	if r := track(tr, 1001, icmpPacket(srv6, cli6, packet.ICMPv6EchoReply, 9)); r.State != ctstate.Established || r.Dir != ctstate.Reply {
		t.Fatalf("echo reply: %+v", r)
	}
	// ND and MLD are never tracked.
	for _, typ := range []uint8{130, 131, 132, 133, 134, 135, 136, 143} {
		if r := track(tr, 1002, icmpPacket(cli6, srv6, typ, 0)); r.State != ctstate.Untracked {
			t.Errorf("ICMPv6 type %d: %+v", typ, r)
		}
	}
	if r := track(tr, 1003, icmpPacket(srv6, cli6, packet.ICMPv6EchoReply, 10)); r.State != ctstate.Invalid {
		t.Errorf("unsolicited echo reply: %+v", r)
	}
	if _, n := tr.Len(); n != 1 {
		t.Errorf("%d IPv6 entries, want 1", n)
	}
}

// TestICMPErrors relates errors quoting TCP, UDP and ICMP echo flows, in
// both directions, and refuses unknown, truncated and spoofed ones.
func TestICMPErrors(t *testing.T) {
	tr := newTracker(t, nil)
	// A TCP flow, a UDP flow and an echo flow from the client.
	c := newConv(t, tr)
	c.handshake()
	udp := udpPacket(cliAddr, srvAddr, 5353, 53, 20)
	track(tr, 2000, udp)
	echo := icmpPacket(cliAddr, srvAddr, packet.ICMPEcho, 77)
	track(tr, 2000, echo)

	cases := []struct {
		name   string
		p      *packet.Parsed
		state  ctstate.State
		dir    ctstate.Dir
		reason packet.DropReason
	}{
		{"frag-needed from a router for the client's TCP segment",
			icmpError(rtrAddr, cliAddr, packet.ICMPDestUnreach, c.tuple(), 0), ctstate.Related, ctstate.Reply, 0},
		{"port unreachable from the client for the server's TCP segment",
			icmpError(cliAddr, srvAddr, packet.ICMPDestUnreach, tuple(srvAddr, cliAddr, 80, 40000, packet.ProtoTCP), 0), ctstate.Related, ctstate.Original, 0},
		{"port unreachable for the UDP query",
			icmpError(srvAddr, cliAddr, packet.ICMPDestUnreach, udp.Tuple, 0), ctstate.Related, ctstate.Reply, 0},
		{"time exceeded for the echo request",
			icmpError(rtrAddr, cliAddr, packet.ICMPTimeExceeded, echo.Tuple, packet.ICMPEcho), ctstate.Related, ctstate.Reply, 0},
		{"redirect for the echo request",
			icmpError(rtrAddr, cliAddr, packet.ICMPRedirect, echo.Tuple, packet.ICMPEcho), ctstate.Related, ctstate.Reply, 0},
		{"an error quoting no tracked flow",
			icmpError(rtrAddr, cliAddr, packet.ICMPDestUnreach, tuple(cliAddr, srvAddr, 1, 2, packet.ProtoUDP), 0), ctstate.Invalid, 0, packet.ReasonICMPNoFlow},
		{"spoofed: addressed to someone other than the quoted sender",
			icmpError(rtrAddr, srvAddr, packet.ICMPDestUnreach, c.tuple(), 0), ctstate.Invalid, ctstate.Reply, packet.ReasonICMPSpoofed},
		{"quoting an ICMP error (not invertible)",
			icmpError(rtrAddr, cliAddr, packet.ICMPDestUnreach, tuple(cliAddr, srvAddr, 0, 0, packet.ProtoICMP), packet.ICMPDestUnreach), ctstate.Invalid, 0, packet.ReasonICMPNoFlow},
	}
	for _, tc := range cases {
		r := track(tr, 3000, tc.p)
		if r.State != tc.state || r.Dir != tc.dir || r.Reason != tc.reason {
			t.Errorf("%s: %+v, want %v %v %q", tc.name, r, tc.state, tc.dir, tc.reason)
		}
		if r.State == ctstate.Related && tr.VerdictCache(&r) != nil {
			t.Errorf("%s: a RELATED error must not use the flow's verdict cache", tc.name)
		}
	}
	trunc := icmpError(rtrAddr, cliAddr, packet.ICMPDestUnreach, c.tuple(), 0)
	trunc.ICMP.InnerOK, trunc.ICMP.InnerReason = false, packet.ReasonICMPInnerTruncated
	if r := track(tr, 3000, trunc); r.State != ctstate.Invalid || r.Reason != packet.ReasonICMPInnerTruncated {
		t.Errorf("truncated quote: %+v", r)
	}
	// Errors do not refresh or create entries.
	if v4, _ := tr.Len(); v4 != 3 {
		t.Errorf("%d entries, want 3", v4)
	}
	// ICMPv6 port unreachable quoting a reply-direction UDP datagram, both
	// ends on one address (told apart by port): RELATED in the original
	// direction (the inverted quote is the original tuple).
	u6 := udpPacket(cli6, cli6, 784, 47826, 10)
	u6.IPLen += 20
	track(tr, 4000, u6)
	pu := icmpError(cli6, cli6, packet.ICMPv6DestUnreach, tuple(cli6, cli6, 47826, 784, packet.ProtoUDP), 0)
	if r := track(tr, 4001, pu); r.State != ctstate.Related || r.Dir != ctstate.Original {
		t.Errorf("ICMPv6 error quoting the reply direction: %+v", r)
	}
}

func TestGenericProtocol(t *testing.T) {
	tr := newTracker(t, nil)
	gre := &packet.Parsed{Tuple: tuple(cliAddr, srvAddr, 0, 0, 47)}
	back := &packet.Parsed{Tuple: tuple(srvAddr, cliAddr, 0, 0, 47)}
	if r := track(tr, 1000, gre); r.State != ctstate.New {
		t.Fatalf("first: %+v", r)
	}
	if r := track(tr, 1001, back); r.State != ctstate.Established || r.Dir != ctstate.Reply {
		t.Fatalf("back: %+v", r)
	}
	if e, _ := entryOf(tr, gre.Tuple); e.Timeout != 600*time.Second {
		t.Fatalf("timeout: %+v", e)
	}
}

func TestExpiryAndSweep(t *testing.T) {
	tr := newTracker(t, func(o *Options) { o.Timeouts.TCPSynSent = 10 * time.Second })
	c := newConv(t, tr)
	c.syn()
	for i := range 100 {
		track(tr, 1000, udpPacket(cliAddr, srvAddr, uint16(1000+i), 53, 10))
	}
	if v4, _ := tr.Len(); v4 != 101 {
		t.Fatalf("%d entries", v4)
	}
	if n := tr.Expire(1000+29000, 1<<20); n != 1 {
		t.Fatalf("at 29 s: %d expired, want the SYN_SENT entry only", n)
	}
	// A bounded sweep does bounded work.
	if n := tr.Expire(1000+31000, 10); n > 10 {
		t.Fatalf("budget 10 expired %d", n)
	}
	for tr.Expire(1000+31000, 10) > 0 {
	}
	if v4, _ := tr.Len(); v4 != 0 {
		t.Fatalf("%d entries left", v4)
	}
	s := tr.Stats()
	if s.UDP.Expiries != 100 || s.TCP.Expiries != 1 || s.UDP.Inserts != 100 {
		t.Fatalf("stats: %+v", s)
	}
	// The stale SYN_SENT entry does not pin a later connection.
	c.now = 1000 + 40000
	c.synSent[0] = false
	if r := c.send(0, fSYN, 0); r.State != ctstate.New || !r.Created {
		t.Fatalf("SYN after expiry: %+v", r)
	}
}

func TestLazyExpiryOnLookup(t *testing.T) {
	tr := newTracker(t, func(o *Options) { o.Timeouts.TCPSynSent = 10 * time.Second })
	c := newConv(t, tr)
	c.syn()
	c.now += 10000
	c.synSent[0] = false
	if r := c.send(0, fSYN, 0); !r.Created {
		t.Fatalf("expired entry reused: %+v", r)
	}
}

func fillUDP(tr *Tracker, n int, now uint32, replied bool, stream bool) {
	for i := range n {
		q := udpPacket(cliAddr, srvAddr, uint16(10000+i), 53, 10)
		track(tr, now, q)
		if replied {
			a := udpPacket(srvAddr, cliAddr, 53, uint16(10000+i), 10)
			track(tr, now, a)
			if stream {
				track(tr, now+2001, q) // assured
			}
		}
	}
}

func TestTableFull(t *testing.T) {
	small := func(o *Options) { o.Capacity4 = 64 }
	// Not assured: a new connection evicts one.
	tr := newTracker(t, small)
	fillUDP(tr, 64, 1000, false, false)
	r := track(tr, 2000, udpPacket(cliAddr, srvAddr, 1, 1, 10))
	if r.State != ctstate.New || !r.Created {
		t.Fatalf("full of unassured entries: %+v", r)
	}
	if s := tr.Stats(); s.UDP.EarlyDrops != 1 || s.UDP.TableFull != 0 {
		t.Fatalf("stats: %+v", s.UDP)
	}
	// All assured: the new connection is refused.
	tr = newTracker(t, small)
	fillUDP(tr, 64, 1000, true, true)
	r = track(tr, 5000, udpPacket(cliAddr, srvAddr, 1, 1, 10))
	if r.State != ctstate.Invalid || r.Reason != packet.ReasonTableFull {
		t.Fatalf("full of assured entries: %+v", r)
	}
	if s := tr.Stats(); s.UDP.TableFull != 1 || s.Invalid[packet.ReasonTableFull] != 1 {
		t.Fatalf("stats: %+v", s.UDP)
	}
	// Closing TCP entries are evicted even when assured.
	tr = newTracker(t, small)
	for i := range 64 {
		c := newConv(t, tr)
		c.cp = uint16(20000 + i)
		c.handshake()
		c.send(0, fFIN|fACK, 0)
	}
	if s := tr.Stats(); s.TCPStates[TCPFinWait] != 64 {
		t.Fatalf("%v", s.TCPStates)
	}
	if r := track(tr, 6000, udpPacket(cliAddr, srvAddr, 1, 1, 10)); r.State != ctstate.New {
		t.Fatalf("a closing entry should be evicted: %+v", r)
	}
}

type expectOnce struct {
	want packet.Tuple
	used bool
}

func (x *expectOnce) Match(_ uint32, t *packet.Tuple) bool {
	if x.used || t.Dst != x.want.Dst || t.DstPort != x.want.DstPort || t.Src != x.want.Src {
		return false
	}
	x.used = true
	return true
}

func TestExpectationRelated(t *testing.T) {
	data := tuple(srvAddr, cliAddr, 20, 50000, packet.ProtoTCP)
	x := &expectOnce{want: data}
	o := DefaultOptions()
	o.Capacity4, o.Capacity6 = 64, 64
	tr, err := New(o, x, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := newConv(t, tr)
	c.cli, c.srv, c.cp, c.sp = srvAddr, cliAddr, 20, 50000
	r := c.send(0, fSYN, 0)
	if r.State != ctstate.Related || !r.Created {
		t.Fatalf("expected SYN: %+v", r)
	}
	if e := c.info(); !e.Expected {
		t.Fatalf("entry: %+v", e)
	}
	// Before any reply the original direction stays RELATED.
	if r := c.send(0, fSYN, 0); r.State != ctstate.Related {
		t.Fatalf("retransmitted SYN: %+v", r)
	}
	c.send(1, fSYN|fACK, 0)
	if r := c.send(0, fACK, 0); r.State != ctstate.Established {
		t.Fatalf("after the reply: %+v", r)
	}
	// The expectation is consumed: another connection is NEW.
	c2 := newConv(t, tr)
	c2.cli, c2.srv, c2.cp, c2.sp = srvAddr, cliAddr, 20, 50000
	c2.cp = 21
	if r := c2.send(0, fSYN, 0); r.State != ctstate.New {
		t.Fatalf("second: %+v", r)
	}
}

// recHelper records what Confirm hands it.
type recHelper struct {
	calls   int
	states  []ctstate.Dir
	scratch []byte
	verdict packet.DropReason
}

func (h *recHelper) Name() string { return "rec" }

func (h *recHelper) Inspect(pk *alg.Packet) packet.DropReason {
	h.calls++
	h.states = append(h.states, pk.Dir)
	h.scratch = append(h.scratch, pk.State[0])
	pk.State[0]++
	return h.verdict
}

func TestHelperAttachConfirm(t *testing.T) {
	h := &recHelper{}
	o := DefaultOptions()
	o.Capacity4, o.Capacity6, o.HelperSlots = 64, 64, 2
	tr, err := New(o, nil, []HelperBinding{{Proto: packet.ProtoTCP, Port: 21, Helper: h}})
	if err != nil {
		t.Fatal(err)
	}
	c := newConv(t, tr)
	c.sp = 21
	send := func(d int, f uint8, n int) Result {
		r := c.send(d, f, n)
		if r.State != ctstate.Invalid {
			if v := tr.Confirm(c.now, &packet.Parsed{}, &r); v != packet.ReasonNone {
				t.Fatalf("verdict %v", v)
			}
		}
		return r
	}
	send(0, fSYN, 0) // NEW: no helper call
	send(1, fSYN|fACK, 0)
	send(0, fACK, 0)
	send(0, fACK|fPSH, 10)
	if h.calls != 3 || h.states[0] != ctstate.Reply || h.states[1] != ctstate.Original {
		t.Fatalf("helper calls %d dirs %v", h.calls, h.states)
	}
	if h.scratch[0] != 0 || h.scratch[2] != 2 {
		t.Fatalf("scratch not kept per connection: %v", h.scratch)
	}
	if e := c.info(); e.Helper != "rec" {
		t.Fatalf("entry: %+v", e)
	}
	// The helper's drop verdict is returned.
	h.verdict = packet.ReasonALGDrop
	r := c.send(0, fACK|fPSH, 10)
	if v := tr.Confirm(c.now, &packet.Parsed{}, &r); v != packet.ReasonALGDrop {
		t.Fatalf("verdict %v", v)
	}
	// Deleting the entry frees the slot; a fresh connection gets zeroed scratch.
	tr.Flush(nil)
	if tr.hp.n != 0 {
		t.Fatalf("%d helper slots in use after flush", tr.hp.n)
	}
	// The pool is bounded: a third helper connection goes without.
	h.verdict = 0
	for i := range 3 {
		c := newConv(t, tr)
		c.cp, c.sp = uint16(30000+i), 21
		c.syn()
	}
	if s := tr.Stats(); s.HelperPoolFull != 1 {
		t.Fatalf("pool full count %d", s.HelperPoolFull)
	}
}

func TestDiscardRemovesNewEntry(t *testing.T) {
	tr := newTracker(t, nil)
	p := udpPacket(cliAddr, srvAddr, 1, 2, 10)
	r := track(tr, 1000, p)
	tr.Discard(&r)
	if v4, _ := tr.Len(); v4 != 0 {
		t.Fatal("entry kept")
	}
	if tr.VerdictCache(&r) != nil {
		t.Fatal("verdict cache of a discarded entry")
	}
	// Discard of an existing connection's packet does nothing.
	r = track(tr, 1000, p)
	r = track(tr, 1001, p)
	tr.Discard(&r)
	if v4, _ := tr.Len(); v4 != 1 {
		t.Fatal("existing entry removed")
	}
}

func TestVerdictCache(t *testing.T) {
	tr := newTracker(t, nil)
	p := udpPacket(cliAddr, srvAddr, 1, 2, 10)
	r := track(tr, 1000, p)
	vc := tr.VerdictCache(&r)
	if vc == nil || *vc != 0 {
		t.Fatal("no zeroed cache slot for a new entry")
	}
	*vc = 0xabcd
	r2 := track(tr, 1001, udpPacket(srvAddr, cliAddr, 2, 1, 10))
	if vc2 := tr.VerdictCache(&r2); vc2 != vc {
		t.Fatal("both directions share the entry's slot")
	}
	inv := track(tr, 1002, icmpPacket(cliAddr, srvAddr, 40, 0))
	if tr.VerdictCache(&inv) != nil {
		t.Fatal("cache slot for an INVALID packet")
	}
}

func TestVLANZones(t *testing.T) {
	for _, zones := range []bool{false, true} {
		tr := newTracker(t, func(o *Options) { o.VLANZones = zones })
		p := udpPacket(cliAddr, srvAddr, 1, 2, 10)
		track(tr, 1000, p)
		q := *p
		q.VLANs, q.VLAN[0] = 1, 42
		r := track(tr, 1001, &q)
		if r.Created != zones {
			t.Errorf("zones %v: tagged copy created=%v", zones, r.Created)
		}
	}
}

func TestRangeAndFlush(t *testing.T) {
	tr := newTracker(t, nil)
	c := newConv(t, tr)
	c.handshake()
	track(tr, 2000, udpPacket(cliAddr, srvAddr, 1, 2, 10))
	track(tr, 2000, icmpPacket(cli6, srv6, packet.ICMPv6EchoRequest, 1))
	var lines []string
	tr.Range(func(e EntryInfo) bool { lines = append(lines, e.String()); return true })
	if len(lines) != 3 {
		t.Fatalf("%d entries: %v", len(lines), lines)
	}
	want := "ipv4 tcp 6 431999 ESTABLISHED src=198.18.0.1 dst=198.19.0.1 sport=40000 dport=80 [ASSURED]"
	if lines[0] != want {
		t.Errorf("line %q\nwant %q", lines[0], want)
	}
	if n := tr.Flush(func(e EntryInfo) bool { return e.Orig.Proto == packet.ProtoUDP }); n != 1 {
		t.Fatalf("flushed %d", n)
	}
	if n := tr.Flush(nil); n != 2 {
		t.Fatalf("flushed %d", n)
	}
	s := tr.Stats()
	if s.Len4+s.Len6 != 0 || s.TCP.Deletes != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestStatsTCPStates(t *testing.T) {
	tr := newTracker(t, nil)
	newConv(t, tr).syn()
	c := newConv(t, tr)
	c.cp = 2
	c.handshake()
	s := tr.Stats()
	if s.TCPStates[TCPSynSent] != 1 || s.TCPStates[TCPEstablished] != 1 || s.TCP.Entries != 2 {
		t.Fatalf("%+v", s)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	o := DefaultOptions()
	o.Timeouts.UDP = 0
	if _, err := New(o, nil, nil); err == nil {
		t.Error("zero timeout accepted")
	}
	o = DefaultOptions()
	o.HelperSlots = 0
	if _, err := New(o, nil, []HelperBinding{{Proto: 6, Port: 21, Helper: &recHelper{}}}); err == nil {
		t.Error("helpers without slots accepted")
	}
	o = DefaultOptions()
	o.Capacity4 = 0
	if _, err := New(o, nil, nil); err == nil {
		t.Error("no capacity accepted")
	}
	o = DefaultOptions()
	o.Capacity4, o.Mem4 = 0, make([]byte, 1<<20)
	tr, err := New(o, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if v4, _ := tr.Capacity(); v4 < 10000 {
		t.Errorf("1 MiB holds %d entries", v4)
	}
}

var _ flowtable.Ref

// TestRetune: new timeouts and switches take effect at each connection's
// next packet, as Linux's sysctls do; a bad timeout changes nothing.
func TestRetune(t *testing.T) {
	tr := newTracker(t, nil)
	q := udpPacket(cliAddr, srvAddr, 5353, 53, 30)
	track(tr, 1000, q)
	u := tr.opts.Tunables
	u.Timeouts.UDP = 5 * time.Second
	u.TCPLoose = false
	if err := tr.Retune(u); err != nil {
		t.Fatal(err)
	}
	// The live entry keeps its deadline until its next packet.
	if e, _ := entryOf(tr, q.Tuple); e.Timeout != 30*time.Second {
		t.Fatalf("before its next packet: %+v", e)
	}
	track(tr, 2000, q)
	if e, _ := entryOf(tr, q.Tuple); e.Timeout != 5*time.Second {
		t.Fatalf("after its next packet: %+v", e)
	}
	if r := track(tr, 2000+5000, q); !r.Created {
		t.Fatalf("5 s after the last packet: %+v, want a new connection", r)
	}
	// Without tcp_loose a mid-stream segment is not picked up.
	c := newConv(t, tr)
	c.nxt = [2]uint32{100000, 900000}
	if r := c.send(0, fACK|fPSH, 100); r.State != ctstate.Invalid {
		t.Fatalf("mid-stream segment without loose: %+v", r)
	}
	bad := u
	bad.Timeouts.TCPEstablished = 0
	if err := tr.Retune(bad); err == nil {
		t.Fatal("zero timeout accepted")
	}
	if tr.opts.Tunables != u || tr.to.udp != 5000 {
		t.Fatalf("a refused retune changed the tracker: %+v", tr.opts.Tunables)
	}
}

// TestMaxConnsSpansFamilies: MaxConns bounds the IPv4 and IPv6 tables
// together, as nf_conntrack_max does: past it a new connection of either
// family replaces an evictable one near its slot, or is table_full.
func TestMaxConnsSpansFamilies(t *testing.T) {
	limit := func(o *Options) { o.Capacity4, o.Capacity6, o.MaxConns = 1024, 1024, 64 }
	// 64 assured IPv4 connections: an IPv6 one is refused though its
	// table is empty.
	tr := newTracker(t, limit)
	fillUDP(tr, 64, 1000, true, true)
	if got := tr.MaxConns(); got != 64 {
		t.Fatalf("MaxConns %d, want 64", got)
	}
	r := track(tr, 5000, udpPacket(cli6, srv6, 1, 53, 10))
	if r.State != ctstate.Invalid || r.Reason != packet.ReasonTableFull {
		t.Fatalf("IPv6 past the limit: %+v", r)
	}
	// 63 assured IPv4 connections leave room for one more, of either family.
	tr = newTracker(t, limit)
	fillUDP(tr, 63, 1000, true, true)
	if r := track(tr, 5000, udpPacket(cli6, srv6, 1, 53, 10)); r.State != ctstate.New || !r.Created {
		t.Fatalf("IPv6 under the limit: %+v", r)
	}
	track(tr, 5000, udpPacket(srv6, cli6, 53, 1, 10))
	track(tr, 7001, udpPacket(cli6, srv6, 1, 53, 10)) // assured: not evictable
	if r := track(tr, 7001, udpPacket(cli6, srv6, 2, 53, 10)); r.State != ctstate.Invalid {
		t.Fatalf("IPv6 at the limit: %+v", r)
	}
	// At the limit an unassured connection of the same family near the new
	// one's slot is dropped early for it (a table of 128, half full, has
	// some near every slot).
	tr = newTracker(t, func(o *Options) { limit(o); o.Capacity6 = 128 })
	for i := range 64 {
		track(tr, 1000, udpPacket(cli6, srv6, uint16(10000+i), 53, 10))
	}
	r = track(tr, 2000, udpPacket(cli6, srv6, 1, 53, 10))
	if r.State != ctstate.New || !r.Created {
		t.Fatalf("IPv6 at a limit of unassured IPv6 connections: %+v", r)
	}
	if v4, v6 := tr.Len(); v4+v6 != 64 || tr.Stats().UDP.EarlyDrops != 1 {
		t.Fatalf("%d + %d connections, %d early drops", v4, v6, tr.Stats().UDP.EarlyDrops)
	}
}
