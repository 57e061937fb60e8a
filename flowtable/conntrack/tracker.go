package conntrack

import (
	"errors"
	"fmt"
	"time"

	"github.com/statewall/statewall/alg"
	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/flowtable"
	"github.com/statewall/statewall/flowtable/ctstate"
)

// Timeouts are the per-state timeouts, named after Linux's
// net.netfilter.nf_conntrack_* sysctls; DefaultTimeouts holds Linux's
// defaults.
type Timeouts struct {
	TCPSynSent        time.Duration // nf_conntrack_tcp_timeout_syn_sent (also SYN_SENT2)
	TCPSynRecv        time.Duration // nf_conntrack_tcp_timeout_syn_recv
	TCPEstablished    time.Duration // nf_conntrack_tcp_timeout_established
	TCPFinWait        time.Duration // nf_conntrack_tcp_timeout_fin_wait
	TCPCloseWait      time.Duration // nf_conntrack_tcp_timeout_close_wait
	TCPLastAck        time.Duration // nf_conntrack_tcp_timeout_last_ack
	TCPTimeWait       time.Duration // nf_conntrack_tcp_timeout_time_wait
	TCPClose          time.Duration // nf_conntrack_tcp_timeout_close
	TCPMaxRetrans     time.Duration // nf_conntrack_tcp_timeout_max_retrans (the RETRANS cap)
	TCPUnacknowledged time.Duration // nf_conntrack_tcp_timeout_unacknowledged (the UNACK cap)
	UDP               time.Duration // nf_conntrack_udp_timeout (unreplied, or replied within 2 s)
	UDPStream         time.Duration // nf_conntrack_udp_timeout_stream (replied, active past 2 s)
	ICMP              time.Duration // nf_conntrack_icmp_timeout
	ICMPv6            time.Duration // nf_conntrack_icmpv6_timeout
	Generic           time.Duration // nf_conntrack_generic_timeout
}

// DefaultTimeouts returns Linux's default timeouts.
func DefaultTimeouts() Timeouts {
	return Timeouts{
		TCPSynSent:        120 * time.Second,
		TCPSynRecv:        60 * time.Second,
		TCPEstablished:    5 * 24 * time.Hour,
		TCPFinWait:        120 * time.Second,
		TCPCloseWait:      60 * time.Second,
		TCPLastAck:        30 * time.Second,
		TCPTimeWait:       120 * time.Second,
		TCPClose:          10 * time.Second,
		TCPMaxRetrans:     300 * time.Second,
		TCPUnacknowledged: 300 * time.Second,
		UDP:               30 * time.Second,
		UDPStream:         120 * time.Second,
		ICMP:              30 * time.Second,
		ICMPv6:            30 * time.Second,
		Generic:           600 * time.Second,
	}
}

// maxTimeout is the longest timeout the wrapping millisecond clock allows
// (flowtable.Expired needs deadlines under 2^31 ms).
const maxTimeout = 24 * 24 * time.Hour

// Tunables are the settings a running tracker can take anew (Retune),
// as Linux's net.netfilter.nf_conntrack_* sysctls change: each connection
// follows them from its next packet on.
type Tunables struct {
	TCPLoose     bool // pick up connections mid-stream (nf_conntrack_tcp_loose)
	TCPBeLiberal bool // accept out-of-window segments (nf_conntrack_tcp_be_liberal)
	Timeouts     Timeouts
}

// Options configure a Tracker.
type Options struct {
	Tunables
	// Capacity4 and Capacity6 are the entries of the IPv4 and IPv6 tables;
	// 0 sizes a table from Mem4/Mem6, and with an arena a capacity is at
	// most what the arena holds.
	Capacity4, Capacity6 int
	// MaxConns, when above 0, bounds the connections of both tables
	// together, as nf_conntrack_max bounds Linux's of every family: a new
	// connection past it replaces one evicted near its slot (early drop)
	// or is INVALID table_full.
	MaxConns int
	// Mem4 and Mem6 are optional arenas (hugepage memory) for the tables;
	// nil allocates from the Go heap.
	Mem4, Mem6 []byte
	// VLANZones keys connections by their outer VLAN id as well (a
	// conntrack zone per VLAN). Off by default, as Linux has no zones
	// unless configured.
	VLANZones bool
	// HelperSlots is the number of connections that can have an ALG
	// helper attached at once (the helper scratch pool).
	HelperSlots int
}

// DefaultOptions returns Linux's defaults and modest heap-allocated tables.
func DefaultOptions() Options {
	return Options{
		Tunables:    Tunables{TCPLoose: true, Timeouts: DefaultTimeouts()},
		Capacity4:   1 << 16,
		Capacity6:   1 << 14,
		HelperSlots: 1024,
	}
}

// ExpectationMatcher finds and consumes an expectation matching a new
// connection's tuple (alg.Expectations implements it). It is the tracker's
// only shared, non-worker-owned dependency.
type ExpectationMatcher interface {
	Match(now uint32, t *packet.Tuple) bool
}

// HelperBinding attaches Helper to new connections to the server port Port
// of protocol Proto (Linux's automatic helper assignment).
type HelperBinding struct {
	Proto  uint8
	Port   uint16
	Helper alg.Helper
}

// Result is what Track says about one packet. The unexported fields are
// the handles Confirm, Discard and VerdictCache use.
type Result struct {
	State    ctstate.State     // the packet's ct state
	Dir      ctstate.Dir       // its direction within the connection (Original when untracked)
	Reason   packet.DropReason // why it is INVALID (ReasonNone otherwise)
	TCPState TCPState          // the connection's TCP state after the packet (TCP only)
	Created  bool              // Track inserted a new entry for this packet

	fam     packet.Family
	proto   uint8
	ref     flowtable.Ref
	related bool // an ICMP error related to ref's connection
}

// Tracker is one worker's connection tracker: it owns its tables and must
// be used from one goroutine only.
type Tracker struct {
	opts    Options
	tcp     tcpConfig
	to      protoTimeouts
	t4      famTable[flowtable.Key4]
	t6      famTable[flowtable.Key6]
	expect  ExpectationMatcher
	helpers []HelperBinding
	hp      helperPool
	pk      alg.Packet // scratch for helper calls, so Confirm does not allocate
	now     uint32     // the last clock Track or Expire saw (for listings)
	stats   counters
}

// protoTimeouts are the non-TCP timeouts in milliseconds.
type protoTimeouts struct {
	udp, udpStream, icmp, icmpv6, generic uint32
}

// New builds a tracker. expect may be nil (no expectations); helpers are
// attached to new connections by server port.
func New(opts Options, expect ExpectationMatcher, helpers []HelperBinding) (*Tracker, error) {
	t := &Tracker{opts: opts, expect: expect, helpers: helpers}
	if err := t.Retune(opts.Tunables); err != nil {
		return nil, err
	}
	var err error
	for i, h := range helpers {
		if h.Helper == nil {
			return nil, fmt.Errorf("conntrack: helper binding %d (proto %d port %d) has no helper", i, h.Proto, h.Port)
		}
	}
	if len(helpers) > 255 {
		return nil, errors.New("conntrack: at most 255 helper bindings")
	}
	if len(helpers) > 0 && opts.HelperSlots <= 0 {
		return nil, errors.New("conntrack: helpers are bound but HelperSlots is 0")
	}
	t.hp.init(max(opts.HelperSlots, 0))
	opts.Capacity4 = fitArena[flowtable.Key4](opts.Capacity4, opts.Mem4)
	opts.Capacity6 = fitArena[flowtable.Key6](opts.Capacity6, opts.Mem6)
	if t.t4.tb, err = flowtable.New[flowtable.Key4, Conn](flowtable.Config{Capacity: opts.Capacity4, Mem: opts.Mem4}); err != nil {
		return nil, fmt.Errorf("conntrack: IPv4 table: %w", err)
	}
	if t.t6.tb, err = flowtable.New[flowtable.Key6, Conn](flowtable.Config{Capacity: opts.Capacity6, Mem: opts.Mem6}); err != nil {
		return nil, fmt.Errorf("conntrack: IPv6 table: %w", err)
	}
	t.t4.fam, t.t4.mk = packet.FamilyIPv4, flowtable.MakeKey4
	t.t6.fam, t.t6.mk = packet.FamilyIPv6, flowtable.MakeKey6
	t.t4.onExpire = func(r flowtable.Ref, e *Entry4) { t.expired(packet.FamilyIPv4, r, e.Key.Proto(), e.Flags) }
	t.t6.onExpire = func(r flowtable.Ref, e *Entry6) { t.expired(packet.FamilyIPv6, r, e.Key.Proto(), e.Flags) }
	return t, nil
}

// Retune makes u the tracker's timeouts and TCP switches, or changes
// nothing and says why when a timeout is out of range. Existing
// connections follow them from their next packet on (their current
// deadlines stay), as with Linux's sysctls. Like every Tracker method it
// runs on the owning worker.
func (t *Tracker) Retune(u Tunables) error {
	ms := func(name string, d time.Duration) (uint32, error) {
		if d <= 0 || d > maxTimeout {
			return 0, fmt.Errorf("conntrack: timeout %s = %v out of range (0, %v]", name, d, maxTimeout)
		}
		return uint32(d / time.Millisecond), nil
	}
	to := u.Timeouts
	var tcp tcpConfig
	var proto protoTimeouts
	var err error
	tcpTO := []struct {
		slot int
		name string
		d    time.Duration
	}{
		{int(TCPSynSent), "TCPSynSent", to.TCPSynSent},
		{int(TCPSynSent2), "TCPSynSent", to.TCPSynSent},
		{int(TCPSynRecv), "TCPSynRecv", to.TCPSynRecv},
		{int(TCPEstablished), "TCPEstablished", to.TCPEstablished},
		{int(TCPFinWait), "TCPFinWait", to.TCPFinWait},
		{int(TCPCloseWait), "TCPCloseWait", to.TCPCloseWait},
		{int(TCPLastAck), "TCPLastAck", to.TCPLastAck},
		{int(TCPTimeWait), "TCPTimeWait", to.TCPTimeWait},
		{int(TCPClose), "TCPClose", to.TCPClose},
		{toRetrans, "TCPMaxRetrans", to.TCPMaxRetrans},
		{toUnack, "TCPUnacknowledged", to.TCPUnacknowledged},
	}
	for _, x := range tcpTO {
		if tcp.timeouts[x.slot], err = ms(x.name, x.d); err != nil {
			return err
		}
	}
	tcp.loose, tcp.beLiberal = u.TCPLoose, u.TCPBeLiberal
	for _, x := range []struct {
		dst  *uint32
		name string
		d    time.Duration
	}{
		{&proto.udp, "UDP", to.UDP}, {&proto.udpStream, "UDPStream", to.UDPStream},
		{&proto.icmp, "ICMP", to.ICMP}, {&proto.icmpv6, "ICMPv6", to.ICMPv6},
		{&proto.generic, "Generic", to.Generic},
	} {
		if *x.dst, err = ms(x.name, x.d); err != nil {
			return err
		}
	}
	t.tcp, t.to, t.opts.Tunables = tcp, proto, u
	return nil
}

// TableBytes4 and TableBytes6 are the arena bytes an IPv4 or IPv6 table
// of capacity entries takes (Options.Mem4, Mem6), alignment included.
func TableBytes4(capacity int) int64 { return flowtable.Size[flowtable.Key4, Conn](capacity) + 63 }

// TableBytes6: see TableBytes4.
func TableBytes6(capacity int) int64 { return flowtable.Size[flowtable.Key6, Conn](capacity) + 63 }

// fitArena bounds a table's capacity by what its arena mem holds (0
// without an arena stays 0: the table sizes itself from mem).
func fitArena[K flowtable.Hashable](capacity int, mem []byte) int {
	if mem == nil || capacity == 0 {
		return capacity
	}
	return min(capacity, flowtable.CapacityFor[K, Conn](int64(len(mem))-63))
}

// Capacity returns the IPv4 and IPv6 tables' capacities.
func (t *Tracker) Capacity() (v4, v6 int) { return t.t4.tb.Cap(), t.t6.tb.Cap() }

// MaxConns returns how many connections the tracker holds at most: the
// tables' capacities together, bounded by Options.MaxConns.
func (t *Tracker) MaxConns() int {
	n := t.t4.tb.Cap() + t.t6.tb.Cap()
	if t.opts.MaxConns > 0 {
		n = min(n, t.opts.MaxConns)
	}
	return n
}

// Len returns the live entries of the IPv4 and IPv6 tables.
func (t *Tracker) Len() (v4, v6 int) { return t.t4.tb.Len(), t.t6.tb.Len() }

// MemoryBytes returns the bytes the tables use (index and entries).
func (t *Tracker) MemoryBytes() int64 { return t.t4.tb.MemoryBytes() + t.t6.tb.MemoryBytes() }

// zone is the conntrack zone of a packet.
func (t *Tracker) zone(p *packet.Parsed) uint16 {
	if t.opts.VLANZones && p.VLANs > 0 {
		return p.VLAN[0]
	}
	return 0
}

// keyTuple is the tuple a packet is looked up by: the quoted packet's for
// an ICMP error (the canonical key of a tuple and of its inverse are the
// same), else its own.
func keyTuple(p *packet.Parsed) *packet.Tuple {
	if isICMPError(p) && p.ICMP.InnerOK {
		return &p.ICMP.Inner
	}
	return &p.Tuple
}

// Hash returns the flow-table hash Track needs for p, for the burst's
// pre-pass (compute all hashes, Prefetch them, then Track each packet).
func (t *Tracker) Hash(p *packet.Parsed) uint64 {
	tu := keyTuple(p)
	switch p.Tuple.Family {
	case packet.FamilyIPv4:
		k, _ := flowtable.MakeKey4(tu, t.zone(p))
		return k.Hash()
	case packet.FamilyIPv6:
		k, _ := flowtable.MakeKey6(tu, t.zone(p))
		return k.Hash()
	}
	return 0
}

// Prefetch starts loading the index bucket of hash h (from Hash) when the
// tables are large enough for that to pay.
func (t *Tracker) Prefetch(h uint64) {
	if t.t4.tb.PrefetchUseful() {
		t.t4.tb.Prefetch(h)
	}
	if t.t6.tb.PrefetchUseful() {
		t.t6.tb.Prefetch(h)
	}
}

// PrefetchEntry starts loading the entry a packet with hash h most likely
// belongs to. It reads the index bucket, so call it in a second pass over
// the burst, after Prefetch: Hash+Prefetch all, PrefetchEntry all, Track
// all.
func (t *Tracker) PrefetchEntry(h uint64) {
	if t.t4.tb.PrefetchUseful() {
		t.t4.tb.PrefetchEntryFor(h)
	}
	if t.t6.tb.PrefetchUseful() {
		t.t6.tb.PrefetchEntryFor(h)
	}
}

// Track classifies packet p at time now (milliseconds, wrapping), with h
// from Hash(p), and writes the outcome to r. It updates or creates the
// connection's entry; see the package comment.
func (t *Tracker) Track(now uint32, p *packet.Parsed, h uint64, r *Result) {
	*r = Result{fam: p.Tuple.Family, proto: p.Tuple.Proto}
	t.now = now
	switch p.Tuple.Family {
	case packet.FamilyIPv4:
		k, srcIsB := flowtable.MakeKey4(&p.Tuple, t.zone(p))
		t.t4.track(t, now, p, k, srcIsB, h, r)
	case packet.FamilyIPv6:
		k, srcIsB := flowtable.MakeKey6(&p.Tuple, t.zone(p))
		t.t6.track(t, now, p, k, srcIsB, h, r)
	default:
		r.State, r.Reason = ctstate.Invalid, packet.ReasonNotIP
	}
	if r.State == ctstate.Invalid {
		t.stats.invalid[r.Reason]++
	}
}

// Confirm is called for a packet the ruleset accepted. It runs the helper
// attached to the packet's connection on ESTABLISHED packets (as Linux
// helpers do) and returns its verdict: ReasonNone to pass the packet, or
// the helper's drop reason.
func (t *Tracker) Confirm(now uint32, p *packet.Parsed, r *Result) packet.DropReason {
	if r.ref == 0 || r.related || r.State != ctstate.Established {
		return packet.ReasonNone
	}
	var orig packet.Tuple
	switch r.fam {
	case packet.FamilyIPv4:
		e := t.t4.tb.Entry(r.ref)
		if e == nil || e.Flags&FlagHelper == 0 {
			return packet.ReasonNone
		}
		orig = e.Key.Tuple(e.Flags&flowtable.FlagOrigIsB != 0)
	case packet.FamilyIPv6:
		e := t.t6.tb.Entry(r.ref)
		if e == nil || e.Flags&FlagHelper == 0 {
			return packet.ReasonNone
		}
		orig = e.Key.Tuple(e.Flags&flowtable.FlagOrigIsB != 0)
	default:
		return packet.ReasonNone
	}
	s := t.hp.lookup(r.fam, r.ref)
	if s == nil {
		return packet.ReasonNone
	}
	t.pk = alg.Packet{Parsed: p, Dir: r.Dir, Orig: orig, State: &s.state, Now: now}
	v := t.helpers[s.helper].Helper.Inspect(&t.pk)
	t.pk = alg.Packet{}
	return v
}

// Discard removes the entry Track created for r's packet, which the
// ruleset dropped (Linux never confirms such a connection).
func (t *Tracker) Discard(r *Result) {
	if !r.Created || r.ref == 0 {
		return
	}
	switch r.fam {
	case packet.FamilyIPv4:
		t.t4.remove(t, r.ref, r.proto)
	case packet.FamilyIPv6:
		t.t6.remove(t, r.ref, r.proto)
	}
	r.ref, r.Created = 0, false
}

// VerdictCache returns the verdict-cache word of r's connection, or nil
// when the packet has no connection (INVALID, UNTRACKED, an entry already
// deleted) or is an ICMP error RELATED to one (its fields are not the
// flow's). The word is shared by both directions: store the direction (or
// one verdict per direction, 16 bits each) in it. It is zero when the
// entry is created.
func (t *Tracker) VerdictCache(r *Result) *uint32 {
	if r.ref == 0 || r.related {
		return nil
	}
	switch r.fam {
	case packet.FamilyIPv4:
		if e := t.t4.tb.Entry(r.ref); e != nil {
			return &e.Value.Cache
		}
	case packet.FamilyIPv6:
		if e := t.t6.tb.Entry(r.ref); e != nil {
			return &e.Value.Cache
		}
	}
	return nil
}

// Expire deletes expired entries, examining at most budget entry slots of
// each table (bounded work per burst). It returns the number deleted.
func (t *Tracker) Expire(now uint32, budget int) int {
	t.now = now
	n := t.t4.tb.Sweep(now, budget, t.t4.onExpire)
	return n + t.t6.tb.Sweep(now, budget, t.t6.onExpire)
}

// expired accounts for an entry Sweep deletes.
func (t *Tracker) expired(fam packet.Family, r flowtable.Ref, proto uint8, flags uint8) {
	t.stats.proto[protoIndex(fam, proto)].Expiries++
	if flags&FlagHelper != 0 {
		t.hp.release(fam, r)
	}
}

// helperFor returns the index+1 of the helper bound to a new connection's
// server port, or 0.
func (t *Tracker) helperFor(tu *packet.Tuple) int {
	for i := range t.helpers {
		if h := &t.helpers[i]; h.Proto == tu.Proto && h.Port == tu.DstPort {
			return i + 1
		}
	}
	return 0
}
