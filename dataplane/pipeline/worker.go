// Package pipeline is the per-core packet path: a Worker polls a burst
// from each port it serves, parses every frame in place, tracks it in its
// own connection table, classifies it against the current ruleset, runs
// the ALG on accepted packets, and forwards or drops it, counting all of it
// in plain per-worker counters. The same Worker runs over DPDK ports in the
// daemon and over capture files and memory in replay, tests and benchmarks.
package pipeline

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/statewall/statewall/config"
	"github.com/statewall/statewall/config/rules"
	"github.com/statewall/statewall/dataplane/defrag"
	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/dataplane/port"
	"github.com/statewall/statewall/flowtable"
	"github.com/statewall/statewall/flowtable/conntrack"
	"github.com/statewall/statewall/flowtable/ctstate"
)

// MaxBurst is the largest burst a worker asks a port for.
const MaxBurst = 256

// Binding is one receive queue a worker polls and the port its accepted
// frames leave by (bump-in-the-wire: what enters In leaves Out).
type Binding struct {
	In      port.Port
	InIndex uint16 // the port's index, as rules' in_port matches it
	Queue   int
	Out     port.Port
	OutQ    int
	// NewFrame copies a generated reply (a REJECT's TCP RST or ICMP
	// unreachable) into a buffer In can transmit (an mbuf). nil sends the
	// worker's scratch buffer itself, which suits ports whose TxBurst is
	// done with a frame when it returns (memory, files).
	NewFrame func(data []byte) (port.Frame, bool)
	// Spread, when set, hands frames whose connection another worker owns
	// to that worker's ring before processing (a port without RSS shared
	// by several workers).
	Spread *Spread
	// Redirect, when set, hands ICMP errors about another worker's
	// connections to that worker (a port with RSS, one queue per worker).
	Redirect *Redirect

	inPlace port.InPlace // In, when it receives into frames of its own
}

// Clock gives a worker the time once per poll.
type Clock interface {
	// NowMillis returns a wrapping millisecond clock.
	NowMillis() uint32
}

// Outcome is what happened to one packet, for observers (replay).
type Outcome struct {
	N         uint64 // 1-based frame number on this worker
	Timestamp int64  // capture time in ns, 0 when the port has none
	Tracked   bool   // false: the frame never reached the tracker
	State     ctstate.State
	Dir       ctstate.Dir
	Verdict   Verdict
	Rule      int // index into the ruleset's rules, -1 for the policy
	Reason    packet.DropReason
	Ruleset   *rules.Ruleset
	InPort    uint16 // the index of the [[port]] it arrived on
}

// Observer is told the outcome of every packet (replay uses it; the
// daemon passes none).
type Observer interface {
	Observe(o *Outcome)
}

// Config are a worker's settings.
type Config struct {
	ID    int
	Burst int // frames per RxBurst, at most MaxBurst
	// AcceptNonIP forwards frames that carry no IP (ARP, LLDP) untracked;
	// otherwise they are dropped with reason not_ip.
	AcceptNonIP bool
	// ExpireBudget is how many flow entries the incremental sweep
	// examines per poll (default 4: at 10 Mpps in bursts of 32 that
	// sweeps 1.25M entries a second, and an idle worker sweeps without
	// pause; lookups never return an expired entry, so the sweep only
	// returns memory, and a full table evicts expired entries first on
	// insert). Each entry swept is a cache line read: 16 cost 4-5% of
	// the pipeline's rate.
	ExpireBudget int
	// FrameClock makes the capture timestamps of received frames the
	// clock (offline replay); otherwise Clock is read once per poll.
	FrameClock bool
	// Parse are the header checks (IPv4 header checksums are verified,
	// zero taken as offloaded, as Linux's IP layer does, unless set).
	Parse packet.Options
	// Defrag sizes fragment reassembly; fragments are reassembled before
	// tracking, as Linux's conntrack does.
	Defrag defrag.Config
	// NoVerdictCache classifies every packet (for tests and benchmarks
	// that measure what the cache saves).
	NoVerdictCache bool
	// RejectRate and RejectBurst limit the replies REJECT sends (per
	// second and bucket depth); a rate of 0 makes REJECT a silent drop.
	RejectRate, RejectBurst int
	// VerifyChecksums checks TCP, UDP and ICMP checksums before tracking
	// and makes a packet with a bad one INVALID ([conntrack] checksum, as
	// Linux's nf_conntrack_checksum).
	VerifyChecksums bool
	// Log receives a record of every packet decided by a rule with
	// `log = true` (or a logging policy); nil logs nothing. The worker
	// never waits for it: a full channel drops the record, counted.
	Log chan<- LogRecord
}

// heldFrame is a fragment waiting for the rest of its datagram.
type heldFrame struct {
	frame    port.Frame
	port     port.Port // where it came from (to free it)
	datagram defrag.Handle
}

// Retainer is implemented by ports whose received buffers are reused by
// the next burst: Retain makes frame i of the last burst outlive it (a
// fragment held for reassembly). Ports whose buffers live until Free
// (DPDK mbufs, memory) need not implement it.
type Retainer interface {
	Retain(i int)
}

// Worker is one core's pipeline. Everything in it is owned by the
// goroutine that calls Poll; other goroutines read only its published
// counter snapshot.
type Worker struct {
	cfg      Config
	bindings []Binding
	tracker  *conntrack.Tracker
	ruleset  *atomic.Pointer[rules.Ruleset]
	clock    Clock
	observer Observer

	frames [MaxBurst]port.Frame
	moved  [MaxBurst]bool // handed to another worker in pass 1
	// anyMoved says the burst handed a frame over: moved is all false
	// otherwise, and pass 2 need not read it.
	anyMoved bool
	parsed   [MaxBurst]packet.Parsed
	// fast and udp hold what packet.ParseTCP4 or ParseUDP4 read of the
	// frames the fast path takes (kind); their parsed slot is filled only
	// if the fast path hands them back to the general one.
	fast [MaxBurst]packet.TCP4
	udp  [MaxBurst]packet.UDP4
	kind [MaxBurst]frameKind
	est  [MaxBurst]conntrack.Established4
	// fast6, udp6 and est6 are fast, udp and est for IPv6 (parseFast6).
	fast6 [MaxBurst]packet.TCP6
	udp6  [MaxBurst]packet.UDP6
	est6  [MaxBurst]conntrack.Established6
	// accepted counts the fast path's accepted packets of the current
	// burst, added to the counters once at its end (countAccepted).
	accepted acceptedBurst
	pf       prefetcher
	hashes   [MaxBurst]uint64
	results  [MaxBurst]conntrack.Result
	drop     [MaxBurst]port.Frame
	outcome  Outcome

	counters Counters
	n        uint64
	// tag is the verdict-cache tag of the ruleset generation the
	// counters follow (set by adoptRuleset, which every burst calls).
	tag uint32
	// running is the configuration of that generation (applyLive).
	running *config.Config
	// now is the clock of the current poll, read once (clockRead) by
	// the first binding that receives frames, or by Poll.
	now       uint32
	clockRead bool

	defrag  *defrag.Reassembler
	held    []heldFrame // fragments held for reassembly, oldest first
	expired [16]defrag.Handle
	reasm   packet.Parsed // the reassembled datagram being classified
	heldTx  []port.Frame  // scratch for releasing a datagram's fragments
	one     [1]port.Frame

	replyBuf    [packet.MaxReplyLen]byte
	rejectMilli uint64 // reject tokens, in thousandths
	rejectLast  uint32 // clock of the last refill

	snapMu   sync.Mutex
	snap     Counters
	snapSkip int

	// requests carries control-path work (listing or flushing entries)
	// that must run on the worker's own goroutine; Poll runs at most one
	// per call, between bursts.
	requests chan func(*conntrack.Tracker)
}

// Do runs fn on the worker's goroutine between two bursts and waits for
// it. fn must do a bounded amount of work (a chunk of a listing, say):
// the worker forwards nothing while it runs.
func (w *Worker) Do(fn func(*conntrack.Tracker)) {
	done := make(chan struct{})
	w.requests <- func(t *conntrack.Tracker) { fn(t); close(done) }
	<-done
}

// serve runs one pending control request, if any.
func (w *Worker) serve() {
	select {
	case fn := <-w.requests:
		fn(w.tracker)
	default:
	}
}

// NewWorker builds a worker over its bindings, tracker and the shared
// ruleset pointer.
func NewWorker(cfg Config, bindings []Binding, tracker *conntrack.Tracker, ruleset *atomic.Pointer[rules.Ruleset], clock Clock, obs Observer) *Worker {
	if cfg.Burst <= 0 || cfg.Burst > MaxBurst {
		cfg.Burst = 32
	}
	if cfg.ExpireBudget <= 0 {
		cfg.ExpireBudget = 4
	}
	if cfg.Parse == (packet.Options{}) {
		cfg.Parse.IPv4Checksum = packet.ChecksumVerifyNonZero
	}
	bindings = slices.Clone(bindings)
	for i := range bindings {
		bindings[i].inPlace, _ = bindings[i].In.(port.InPlace)
	}
	return &Worker{cfg: cfg, bindings: bindings, tracker: tracker, ruleset: ruleset, clock: clock, observer: obs,
		requests: make(chan func(*conntrack.Tracker)),
		defrag:   defrag.New(cfg.Defrag),
		held:     make([]heldFrame, 0, 256),
		heldTx:   make([]port.Frame, 0, 256),
		// The reject bucket starts full.
		rejectMilli: uint64(max(cfg.RejectBurst, 1)) * 1000}
}

// Poll runs one burst on every binding and returns how many frames it
// received. It never allocates (except when a new ruleset generation
// resizes the per-rule counters).
func (w *Worker) Poll() int {
	total := 0
	w.clockRead = false
	for i := range w.bindings {
		total += w.pollBinding(&w.bindings[i])
	}
	// One sweep step per poll, however many ports it polled (most of
	// which may have been empty).
	if !w.cfg.FrameClock && !w.clockRead {
		w.now = w.clock.NowMillis()
	}
	w.tracker.Expire(w.now, w.cfg.ExpireBudget)
	w.serve()
	if total == 0 && w.snapSkip > 0 {
		// Idle: publish what the last bursts counted, so readers are
		// never left behind by a quiet port.
		w.snapSkip = publishEvery
	}
	if total > 0 || w.snapSkip >= publishEvery {
		w.maybePublish()
	}
	return total
}

// Done reports whether every binding's source is exhausted (finite ports).
func (w *Worker) Done() bool {
	for i := range w.bindings {
		if !w.bindings[i].In.Done() {
			return false
		}
	}
	return true
}

func (w *Worker) pollBinding(b *Binding) int {
	// The port's own frames where it has some (no copy), else w.frames.
	var frames []port.Frame
	if b.inPlace != nil {
		frames = b.inPlace.RxInPlace(b.Queue, w.cfg.Burst)
	} else {
		frames = w.frames[:w.cfg.Burst]
		frames = frames[:b.In.RxBurst(b.Queue, frames)]
	}
	received := len(frames)
	w.counters.observeBurst(received)
	n := received
	if b.Spread != nil && n > 0 {
		n = b.Spread.split(frames[:n], b.In, &w.counters)
	}
	if n == 0 {
		// Nothing (left) for this worker; frames handed to their owners
		// still count as received, so a busy reader never looks idle.
		return received
	}
	rs := w.ruleset.Load()
	w.adoptRuleset(rs)
	var now uint32
	if !w.cfg.FrameClock {
		// The clock is read once per poll.
		if !w.clockRead {
			w.now, w.clockRead = w.clock.NowMillis(), true
		}
		now = w.now
	}
	if w.anyMoved {
		w.moved, w.anyMoved = [MaxBurst]bool{}, false
	}
	w.parseBurst(b, frames[:n], rs)
	w.prefetchEntries(n)
	if b.Redirect != nil {
		b.Redirect.flush(b.In, &w.counters)
	}
	ntx, ndrop := w.decideBurst(b, frames[:n], rs, now)
	w.countAccepted(b.InIndex)
	if ntx > 0 {
		sent := b.Out.TxBurst(b.OutQ, frames[:ntx])
		if sent < ntx {
			w.counters.TxDropped += uint64(ntx - sent)
			w.counters.ByReason[packet.ReasonTxFull] += uint64(ntx - sent)
			b.Out.Free(frames[sent:ntx])
		}
	}
	if ndrop > 0 {
		b.In.Free(w.drop[:ndrop])
	}
	return received
}

// The burst's passes are methods of their own, each small enough for
// the compiler to inline its hot calls (with the profile, cmd/statewalld's
// default.pgo): a function past the inliner's "big" size inlines nothing
// hot, whatever the profile says. None of them is inlined into
// pollBinding, which would then be that big (a call a burst, for a call
// a packet saved).

// parseBurst is pass 1: it parses every frame, and hashes and starts the
// lookup of every frame the tracker will see (prefetching its bucket).
//
//go:noinline
func (w *Worker) parseBurst(b *Binding, frames []port.Frame, rs *rules.Ruleset) {
	link := b.In.LinkType()
	linker, perFrameLink := b.In.(frameLinker)
	fast := w.fastPath(link, perFrameLink, rs)
	// With checksums verified, a frame whose checksum the NIC did not
	// find correct takes the fast path only when its sum is right (a
	// wrong one is INVALID: the general path says so).
	verify := w.cfg.VerifyChecksums
	for i := range frames {
		if fast {
			opt := frameOptions(w.cfg.Parse, &frames[i])
			if packet.ParseTCP4(frames[i].Data, opt, &w.fast[i]) && (!verify || l4SumOK(&frames[i], false)) {
				w.kind[i] = kindTCP4
				w.pf.add(w.tracker.BeginTCP4(&w.fast[i], &w.est[i]))
				continue
			}
			if packet.ParseUDP4(frames[i].Data, opt, &w.udp[i]) && (!verify || l4SumOK(&frames[i], false)) {
				w.kind[i] = kindUDP4
				w.pf.add(w.tracker.BeginUDP4(&w.udp[i], &w.est[i]))
				continue
			}
			if w.parseFast6(i, &frames[i], verify) {
				continue
			}
		}
		w.kind[i] = kindGeneral
		p := &w.parsed[i]
		l := link
		if perFrameLink {
			l = linker.FrameLink(i)
		}
		r := packet.ParseWith(frames[i].Data, l, frameOptions(w.cfg.Parse, &frames[i]), p)
		w.results[i].Reason = r
		if b.Redirect != nil && r == packet.ReasonNone {
			if o := b.Redirect.owner(p); o >= 0 && o != b.Redirect.Self {
				b.Redirect.hold(o, frames[i])
				w.moved[i], w.anyMoved = true, true
				continue
			}
		}
		if r == packet.ReasonNone && !p.Fragment.Is {
			w.hashes[i] = w.tracker.Hash(p)
			w.tracker.Prefetch(w.hashes[i])
		}
	}
	w.pf.flush()
}

// prefetchEntries is pass 1.5: the buckets are on their way, so it reads
// them and starts loading the entries they point to, and pass 2 finds
// both in cache. It runs (and the passes prefetch) whatever the tables'
// size: the fast path's lookup (TrackEstablished4) takes the candidate
// this pass found, and without one every segment took the Call form
// (BenchmarkPipeline at 100-400 flows, tables below the prefetch
// threshold: 50-54 ns a packet, against 40 with the pass); a prefetch of
// a line in cache costs little.
//
//go:noinline
func (w *Worker) prefetchEntries(n int) {
	for i := 0; i < n; i++ {
		switch k := w.kind[i]; {
		case k == kindTCP4 || k == kindUDP4:
			w.pf.add(w.tracker.Candidate4(&w.est[i]))
		case k != kindGeneral:
			first, last := w.tracker.Candidate6(&w.est6[i])
			w.pf.add(first)
			w.pf.add(last)
		case w.results[i].Reason == packet.ReasonNone && !w.parsed[i].Fragment.Is && !w.moved[i]:
			w.tracker.PrefetchEntry(w.hashes[i])
		}
	}
	w.pf.flush()
}

// decideBurst is pass 2: it tracks, classifies and acts on every frame in
// arrival order, and gathers the accepted frames at the front of frames
// and the others in w.drop (how many of each it returns).
//
//go:noinline
func (w *Worker) decideBurst(b *Binding, frames []port.Frame, rs *rules.Ruleset, now uint32) (ntx, ndrop int) {
	if !w.cfg.FrameClock {
		w.expireFragments(now)
	}
	moved := w.anyMoved
	for i := range frames {
		f := &frames[i]
		if moved && w.moved[i] {
			continue // its owner processes it
		}
		if w.cfg.FrameClock && f.Timestamp != 0 {
			now = uint32(f.Timestamp / 1e6)
			w.expireFragments(now)
		}
		var v Verdict
		switch p := &w.parsed[i]; {
		case w.kind[i] == kindTCP4:
			v = w.processTCP4(now, b, rs, i, f)
		case w.kind[i] == kindUDP4:
			v = w.processUDP4(now, b, rs, i, f)
		case w.kind[i] != kindGeneral:
			v = w.process6(now, b, rs, i, f)
		case w.results[i].Reason == packet.ReasonNone && p.Fragment.Is:
			v = w.fragment(now, b, rs, i, f)
		default:
			v = w.process(now, b, rs, p, &w.results[i], f, w.hashes[i], false)
		}
		if v == VerdictHold {
			continue
		}
		if v == VerdictAccept {
			// Accepted frames gather at the front of frames, in order:
			// a frame moves only when one before it left the burst
			// (dropped into w.drop, held or handed over: copied already).
			if ntx != i {
				frames[ntx] = *f
			}
			ntx++
		} else {
			w.drop[ndrop] = *f
			ndrop++
		}
	}
	w.now = now // the frame clock's latest, for Poll's sweep
	return ntx, ndrop
}

// reject answers p, which a rule rejected, with a TCP RST (TCP) or an
// ICMP port unreachable (anything else) back out of the port it came in
// by, within the configured rate.
func (w *Worker) reject(now uint32, b *Binding, p *packet.Parsed) {
	c := &w.counters
	if w.cfg.RejectRate <= 0 || b.In.LinkType() != packet.LinkEthernet {
		return
	}
	burst := uint64(max(w.cfg.RejectBurst, 1)) * 1000
	w.rejectMilli = min(w.rejectMilli+uint64(now-w.rejectLast)*uint64(w.cfg.RejectRate), burst)
	w.rejectLast = now
	if w.rejectMilli < 1000 {
		c.RejectsLimited++
		return
	}
	var reply []byte
	if p.Tuple.Proto == packet.ProtoTCP {
		reply = packet.TCPReset(w.replyBuf[:], p)
	} else {
		reply = packet.Unreachable(w.replyBuf[:], p)
	}
	if reply == nil {
		return
	}
	f := port.Frame{Data: reply}
	if b.NewFrame != nil {
		var ok bool
		if f, ok = b.NewFrame(reply); !ok {
			c.RejectsLimited++
			return
		}
	}
	w.one[0] = f
	if b.In.TxBurst(b.Queue, w.one[:]) == 1 {
		w.rejectMilli -= 1000
		c.RejectsSent++
	} else {
		b.In.Free(w.one[:])
		c.TxDropped++
	}
}

// fragment runs frame i, an IP fragment, through reassembly. A held
// fragment waits (VerdictHold); the fragment that completes its datagram
// carries the verdict of the reassembled datagram, which then applies to
// every held fragment of it: accepted fragments leave as they came (Linux
// forwards the fragments, not the datagram).
func (w *Worker) fragment(now uint32, b *Binding, rs *rules.Ruleset, i int, f *port.Frame) Verdict {
	r := w.defrag.Add(now, &w.parsed[i])
	switch r.Status {
	case defrag.StatusHeld:
		if rt, ok := b.In.(Retainer); ok {
			rt.Retain(i)
		}
		w.held = append(w.held, heldFrame{frame: *f, port: b.In, datagram: r.Datagram})
		return w.notTracked(rs, b, f, VerdictHold, packet.ReasonFragHeld)
	case defrag.StatusComplete:
		q := &w.reasm
		res := &w.results[i]
		res.Reason = packet.ParseWith(r.Frame, packet.LinkRawIP, w.cfg.Parse, q)
		// The reassembled datagram keeps the outer frame's VLAN tags.
		q.VLANs, q.VLAN = w.parsed[i].VLANs, w.parsed[i].VLAN
		var h uint64
		if res.Reason == packet.ReasonNone {
			h = w.tracker.Hash(q)
		}
		v := w.process(now, b, rs, q, res, f, h, false)
		w.releaseDatagram(r.Datagram, v == VerdictAccept, b)
		return v
	case defrag.StatusDropped:
		if r.Datagram != 0 {
			w.releaseDatagram(r.Datagram, false, b)
		}
		return w.notTracked(rs, b, f, VerdictDrop, r.Reason)
	}
	// StatusPass: classify the fragment as it is.
	if r.Datagram != 0 {
		w.releaseDatagram(r.Datagram, false, b)
	}
	return w.process(now, b, rs, &w.parsed[i], &w.results[i], f, w.tracker.Hash(&w.parsed[i]), false)
}

// releaseDatagram sends (accept) or frees the held fragments of d.
func (w *Worker) releaseDatagram(d defrag.Handle, accept bool, b *Binding) {
	keep := w.held[:0]
	w.heldTx = w.heldTx[:0]
	for _, h := range w.held {
		switch {
		case h.datagram != d:
			keep = append(keep, h)
		case accept:
			w.heldTx = append(w.heldTx, h.frame)
		default:
			w.freeOne(h)
			w.counters.ByReason[packet.ReasonFragHeld]++
		}
	}
	w.held = keep
	if len(w.heldTx) > 0 {
		sent := b.Out.TxBurst(b.OutQ, w.heldTx)
		if sent < len(w.heldTx) {
			w.counters.TxDropped += uint64(len(w.heldTx) - sent)
			w.counters.ByReason[packet.ReasonTxFull] += uint64(len(w.heldTx) - sent)
			b.Out.Free(w.heldTx[sent:])
		}
	}
}

func (w *Worker) freeOne(h heldFrame) {
	w.one[0] = h.frame
	h.port.Free(w.one[:])
}

// expireFragments frees the held fragments of datagrams that timed out.
func (w *Worker) expireFragments(now uint32) {
	if len(w.held) == 0 && w.defrag.InProgress() == 0 {
		return
	}
	for {
		n := w.defrag.Expire(now, w.expired[:])
		for _, d := range w.expired[:n] {
			keep := w.held[:0]
			for _, h := range w.held {
				if h.datagram == d {
					w.freeOne(h)
					w.counters.ByReason[packet.ReasonFragTimeout]++
				} else {
					keep = append(keep, h)
				}
			}
			w.held = keep
		}
		if n < len(w.expired) {
			return
		}
	}
}

// frameLinker is implemented by ports whose frames may differ in link
// type (pcapng captures with several interfaces).
type frameLinker interface {
	FrameLink(i int) packet.LinkType
}

// prefetchBatch is how many addresses one prefetch call takes while a
// pass over the burst runs. A call per address costs more than the
// prefetch; one call at the end of a pass leaves the first addresses no
// time to arrive before the next pass reads them: at 1M flows statewalld
// forwards 20% more in batches of 8 (7.7-7.8 vs 6.5 Mpps, 4 and 8 alike).
const prefetchBatch = 8

// prefetcher issues a pass's prefetches in batches of prefetchBatch: up
// to two a frame (an IPv6 entry's two cache lines).
type prefetcher struct {
	addrs [2 * MaxBurst]uintptr
	n     int
}

// add queues addr (0 is harmless: a prefetch never faults).
func (p *prefetcher) add(addr uintptr) {
	p.addrs[p.n] = addr
	if p.n++; p.n%prefetchBatch == 0 {
		flowtable.PrefetchAll(p.addrs[p.n-prefetchBatch : p.n])
	}
}

// flush prefetches what add has not and starts the next pass.
func (p *prefetcher) flush() {
	flowtable.PrefetchAll(p.addrs[p.n-p.n%prefetchBatch : p.n])
	p.n = 0
}

// frameKind says which path a frame of the burst takes.
type frameKind uint8

const (
	kindGeneral frameKind = iota // the whole parse (packet.Parsed)
	kindTCP4                     // read by packet.ParseTCP4: processTCP4
	kindUDP4                     // read by packet.ParseUDP4: processUDP4
	kindTCP6                     // read by packet.ParseTCP6: processTCP6
	kindUDP6                     // read by packet.ParseUDP6: processUDP6
)

// fastPath reports whether this burst's frames may take the fast path
// (processTCP4, processUDP4 and their IPv6 forms): Ethernet framing,
// verdicts cached, and no notrack rules (which need the whole parse of
// every packet).
func (w *Worker) fastPath(link packet.LinkType, perFrameLink bool, rs *rules.Ruleset) bool {
	return link == packet.LinkEthernet && !perFrameLink && !w.cfg.NoVerdictCache && !rs.HasNoTrack()
}

// frameOptions are the parse options for f: its IPv4 header checksum is
// not summed again when the NIC found it correct.
func frameOptions(opt packet.Options, f *port.Frame) packet.Options {
	if f.Verified&port.VerifiedIPv4 != 0 {
		opt.IPv4Checksum = packet.ChecksumIgnore
	}
	return opt
}

// l4SumOK reports whether the TCP or UDP checksum of f, a frame the fast
// path's parsers took (IPv6 ones with v6), is right: the NIC found it so,
// or its sum says so, and then f says so too (port.VerifiedL4), so that
// the general path, should the tracker hand the packet on, does not sum
// it again. Never inlined: the parse loop calls it only when checksums
// are verified, and stays the size at which the compiler inlines its
// other calls.
//
//go:noinline
func l4SumOK(f *port.Frame, v6 bool) bool {
	ok := f.Verified&port.VerifiedL4 != 0
	switch {
	case ok:
	case v6:
		ok = packet.L4ChecksumOK6(f.Data)
	default:
		ok = packet.L4ChecksumOK4(f.Data)
	}
	if ok {
		f.Verified |= port.VerifiedL4
	}
	return ok
}

// l4Verified reports whether p's TCP or UDP checksum is known to be
// correct (the NIC's word, or the fast path's sum): f is the frame p was
// parsed from (not a datagram reassembled from fragments, whose sum no
// one saw).
func (w *Worker) l4Verified(p *packet.Parsed, f *port.Frame) bool {
	return f.Verified&port.VerifiedL4 != 0 && p != &w.reasm && !p.Fragment.Is &&
		(p.Tuple.Proto == packet.ProtoTCP || p.Tuple.Proto == packet.ProtoUDP)
}

// processTCP4 decides the fate of frame i, which packet.ParseTCP4 read.
// A segment of a replied connection is tracked without the whole parse
// and, when its connection's verdict is cached (accept or drop), decided
// by it; every other frame is parsed and takes the general path (as
// tracked already, when the fast path tracked it).
func (w *Worker) processTCP4(now uint32, b *Binding, rs *rules.Ruleset, i int, f *port.Frame) Verdict {
	x := &w.est[i]
	out := w.tracker.TrackEstablished4(now, &w.fast[i], f.Data, x)
	if out >= conntrack.FastCall {
		out = w.tracker.TrackEstablishedCall4(now, &w.fast[i], f.Data, x, &w.results[i], out)
	}
	if out == conntrack.FastDeclined {
		return w.general(now, b, rs, i, f, false)
	}
	if out != conntrack.FastInvalid { // ESTABLISHED
		if m, ok := w.cached(rs, *x.Cache(), x.Dir()); ok && m.Verdict != rules.Reject {
			if w.acceptedFast(m, uint64(len(f.Data))) {
				return VerdictAccept
			}
			return w.establishedOutcome(rs, b, f, x.Dir(), m)
		}
		if out == conntrack.FastEstablished {
			x.Result(&w.results[i])
		}
	}
	// The ruleset decides on the whole packet.
	return w.general(now, b, rs, i, f, true)
}

// processUDP4 is processTCP4 for frame i, which packet.ParseUDP4 read (a
// datagram the fast path tracks is ESTABLISHED).
func (w *Worker) processUDP4(now uint32, b *Binding, rs *rules.Ruleset, i int, f *port.Frame) Verdict {
	x := &w.est[i]
	if w.tracker.TrackEstablishedUDP4(now, x) == conntrack.FastEstablished {
		if m, ok := w.cached(rs, *x.Cache(), x.Dir()); ok && m.Verdict != rules.Reject {
			if w.acceptedFast(m, uint64(len(f.Data))) {
				return VerdictAccept
			}
			return w.establishedOutcome(rs, b, f, x.Dir(), m)
		}
		x.Result(&w.results[i])
		return w.general(now, b, rs, i, f, true)
	}
	return w.general(now, b, rs, i, f, false)
}

// parseFast6 is parseBurst's IPv6 fast path for frame i: it reads the
// frame with packet.ParseTCP6 or ParseUDP6 (with verify, only when its
// TCP or UDP checksum is right), begins its lookup and reports whether it
// did. It is never inlined, so that parseBurst stays the size
// at which the compiler inlines its IPv4 calls.
//
//go:noinline
func (w *Worker) parseFast6(i int, f *port.Frame, verify bool) bool {
	frame := f.Data
	if packet.ParseTCP6(frame, &w.fast6[i]) && (!verify || l4SumOK(f, true)) {
		w.kind[i] = kindTCP6
		w.pf.add(w.tracker.BeginTCP6(&w.fast6[i], &w.est6[i]))
		return true
	}
	if packet.ParseUDP6(frame, &w.udp6[i]) && (!verify || l4SumOK(f, true)) {
		w.kind[i] = kindUDP6
		w.pf.add(w.tracker.BeginUDP6(&w.udp6[i], &w.est6[i]))
		return true
	}
	return false
}

// process6 is decideBurst's IPv6 fast path: processTCP6 or processUDP6
// for frame i (never inlined, as parseFast6).
//
//go:noinline
func (w *Worker) process6(now uint32, b *Binding, rs *rules.Ruleset, i int, f *port.Frame) Verdict {
	if w.kind[i] == kindTCP6 {
		return w.processTCP6(now, b, rs, i, f)
	}
	return w.processUDP6(now, b, rs, i, f)
}

// processTCP6 is processTCP4 for frame i, which packet.ParseTCP6 read.
func (w *Worker) processTCP6(now uint32, b *Binding, rs *rules.Ruleset, i int, f *port.Frame) Verdict {
	x := &w.est6[i]
	out := w.tracker.TrackEstablished6(now, &w.fast6[i], f.Data, x)
	if out >= conntrack.FastCall {
		out = w.tracker.TrackEstablishedCall6(now, &w.fast6[i], f.Data, x, &w.results[i], out)
	}
	if out == conntrack.FastDeclined {
		return w.general(now, b, rs, i, f, false)
	}
	if out != conntrack.FastInvalid { // ESTABLISHED
		if m, ok := w.cached(rs, *x.Cache(), x.Dir()); ok && m.Verdict != rules.Reject {
			if w.acceptedFast(m, uint64(len(f.Data))) {
				return VerdictAccept
			}
			return w.establishedOutcome(rs, b, f, x.Dir(), m)
		}
		if out == conntrack.FastEstablished {
			x.Result(&w.results[i])
		}
	}
	// The ruleset decides on the whole packet.
	return w.general(now, b, rs, i, f, true)
}

// processUDP6 is processUDP4 for frame i, which packet.ParseUDP6 read.
func (w *Worker) processUDP6(now uint32, b *Binding, rs *rules.Ruleset, i int, f *port.Frame) Verdict {
	x := &w.est6[i]
	if w.tracker.TrackEstablishedUDP6(now, x) == conntrack.FastEstablished {
		if m, ok := w.cached(rs, *x.Cache(), x.Dir()); ok && m.Verdict != rules.Reject {
			if w.acceptedFast(m, uint64(len(f.Data))) {
				return VerdictAccept
			}
			return w.establishedOutcome(rs, b, f, x.Dir(), m)
		}
		x.Result(&w.results[i])
		return w.general(now, b, rs, i, f, true)
	}
	return w.general(now, b, rs, i, f, false)
}

// general parses fast-path frame i whole and decides it on the general
// path; tracked says that its result slot holds the tracker's outcome
// already (the fast path tracked it). It is never inlined: the
// fast path's callers stay small enough to inline what is hot.
//
//go:noinline
func (w *Worker) general(now uint32, b *Binding, rs *rules.Ruleset, i int, f *port.Frame, tracked bool) Verdict {
	res := &w.results[i]
	if r := packet.ParseWith(f.Data, packet.LinkEthernet, frameOptions(w.cfg.Parse, f), &w.parsed[i]); !tracked {
		res.Reason = r
	}
	hash := w.est[i].Hash()
	if w.kind[i] == kindTCP6 || w.kind[i] == kindUDP6 {
		hash = w.est6[i].Hash()
	}
	return w.process(now, b, rs, &w.parsed[i], res, f, hash, tracked)
}

// process decides one frame's fate. tracked says that res already holds
// the tracker's outcome (the fast path tracked the packet).
func (w *Worker) process(now uint32, b *Binding, rs *rules.Ruleset, p *packet.Parsed, res *conntrack.Result, f *port.Frame, hash uint64, tracked bool) Verdict {
	c := &w.counters
	o, size := w.begin(rs, b, f)

	if reason := res.Reason; reason != packet.ReasonNone && reason.IPLayerDrop() {
		// Never reached the tracker: not IP, or malformed.
		c.NotTracked++
		o.Reason = reason
		o.Verdict = VerdictDrop
		if reason == packet.ReasonNotIP && w.cfg.AcceptNonIP {
			o.Verdict = VerdictAccept
			o.Reason = packet.ReasonNone
		}
		return w.finish(o, size)
	}

	switch {
	case tracked:
		o.Tracked = true
		o.State, o.Dir, o.Reason = res.State, res.Dir, res.Reason
	case res.Reason != packet.ReasonNone:
		// A sound IP packet whose transport header is malformed: Linux's
		// IP layer passes it on and conntrack cannot identify it, so it
		// is INVALID (the ruleset decides).
		o.Tracked = true
		o.State, o.Reason = ctstate.Invalid, res.Reason
		res.State = ctstate.Invalid
	case w.cfg.VerifyChecksums && !w.l4Verified(p, f) && !packet.TransportChecksumOK(p):
		o.Tracked = true
		o.State, o.Reason = ctstate.Invalid, packet.ReasonBadChecksum
		res.State, res.Reason = ctstate.Invalid, packet.ReasonBadChecksum
	case rs.NoTrack(p, b.InIndex):
		o.Tracked = true
		o.State = ctstate.Untracked
	default:
		w.tracker.Track(now, p, hash, res)
		o.Tracked = true
		o.State, o.Dir, o.Reason = res.State, res.Dir, res.Reason
	}
	c.ByState[o.State]++

	m, cached := w.classify(rs, p, o, res, b.InIndex)
	if cached {
		c.CacheHits++
	}
	o.Rule = int(m.Rule)
	switch m.Verdict {
	case rules.Accept:
		o.Verdict = VerdictAccept
		if o.State != ctstate.Untracked {
			if r := w.tracker.Confirm(now, p, res); r != packet.ReasonNone {
				o.Verdict = VerdictDrop
				o.Reason = r
			}
		}
	case rules.Reject:
		o.Verdict = VerdictReject
		if o.Reason == packet.ReasonNone {
			o.Reason = packet.ReasonRuleReject
		}
		w.reject(now, b, p)
	default:
		o.Verdict = VerdictDrop
		if o.Reason == packet.ReasonNone {
			o.Reason = packet.ReasonRuleDrop
		}
	}
	if m.Log {
		w.logPacket(now, b, p, o)
	}
	if o.Verdict != VerdictAccept && res.Created {
		w.tracker.Discard(res)
	}
	w.countRule(m.Rule, 1, size)
	return w.finish(o, size)
}

// begin counts frame f and starts its outcome.
func (w *Worker) begin(rs *rules.Ruleset, b *Binding, f *port.Frame) (*Outcome, uint64) {
	c := &w.counters
	w.n++
	size := uint64(len(f.Data))
	c.Packets++
	c.Bytes += size
	w.resetOutcome(rs, b, f)
	return &w.outcome, size
}

// countRule counts packets packets of size bytes in all decided by rule
// (NoRule: the policy).
func (w *Worker) countRule(rule int32, packets, size uint64) {
	c := &w.counters
	i := len(c.RulePackets) - 1 // the policy's slot
	if rule >= 0 {
		if int(rule) >= i {
			return
		}
		i = int(rule)
	}
	if i >= 0 {
		c.RulePackets[i] += packets
		c.RuleBytes[i] += size
	}
}

// acceptedBurst is what the fast path accepted in a burst, all by one
// rule (one rule, most often, accepts every established packet).
type acceptedBurst struct {
	packets, bytes uint64
	rule           int32 // kept from burst to burst
}

// acceptedFast counts an ESTABLISHED packet of size bytes, which the fast
// path tracked and whose verdict m came from the cache, and reports true,
// when m accepts it by the burst's rule (the first such packet's) and
// nobody reads its outcome: it goes with the burst's other accepted ones
// (countAccepted). Otherwise it reports false and establishedOutcome
// finishes the packet. It stays under the inliner's budget (80) so that
// it inlines anywhere: in decideBurst, where processTCP4 is inlined, the
// profile's hot call sites of processTCP4 do not apply, and a larger
// helper was a call per packet. That is also why each of the four fast
// paths calls establishedOutcome itself when acceptedFast declines: one
// helper doing both would be over the budget again (an outlined call
// alone counts 57 of the 80).
func (w *Worker) acceptedFast(m rules.Match, size uint64) bool {
	a := &w.accepted
	if w.observer != nil || m.Verdict != rules.Accept || m.Rule != a.rule && a.packets != 0 {
		return false
	}
	a.rule = m.Rule
	a.packets++
	a.bytes += size
	return true
}

// establishedOutcome finishes an ESTABLISHED packet the fast path
// tracked, whose verdict (accept or drop) m came from the cache, and which
// acceptedFast declined (dropped, or an observer reads its outcome): what
// process does for it, without the steps that cannot apply (no helper,
// no log, no connection created). Never inlined: see general.
//
//go:noinline
func (w *Worker) establishedOutcome(rs *rules.Ruleset, b *Binding, f *port.Frame, dir ctstate.Dir, m rules.Match) Verdict {
	c := &w.counters
	o, size := w.begin(rs, b, f)
	o.Tracked, o.State, o.Dir, o.Rule = true, ctstate.Established, dir, int(m.Rule)
	c.ByState[ctstate.Established]++
	c.CacheHits++
	if m.Verdict == rules.Accept {
		o.Verdict = VerdictAccept
	} else {
		o.Verdict, o.Reason = VerdictDrop, packet.ReasonRuleDrop
	}
	w.countRule(m.Rule, 1, size)
	return w.finish(o, size)
}

// resetOutcome starts the outcome of the next packet. It sets the fields
// one by one: assigning a whole struct literal that holds a pointer costs
// a typed memory clear and a write barrier on every packet.
func (w *Worker) resetOutcome(rs *rules.Ruleset, b *Binding, f *port.Frame) {
	o := &w.outcome
	o.N, o.Timestamp, o.Tracked, o.InPort = w.n, f.Timestamp, false, b.InIndex
	o.State, o.Dir, o.Verdict, o.Rule, o.Reason = 0, 0, 0, -1, packet.ReasonNone
	if o.Ruleset != rs {
		o.Ruleset = rs
	}
}

// notTracked counts frame f, which the tracker does not see (a fragment
// held or dropped by reassembly), and finishes it with verdict v.
func (w *Worker) notTracked(rs *rules.Ruleset, b *Binding, f *port.Frame, v Verdict, reason packet.DropReason) Verdict {
	c := &w.counters
	w.n++
	c.Packets++
	c.Bytes += uint64(len(f.Data))
	c.NotTracked++
	o := &w.outcome
	w.resetOutcome(rs, b, f)
	o.Verdict, o.Reason = v, reason
	return w.finish(o, uint64(len(f.Data)))
}

func (w *Worker) finish(o *Outcome, size uint64) Verdict {
	w.countVerdict(o.Verdict, o.Reason, o.InPort, 1, size)
	if w.observer != nil {
		w.observer.Observe(o)
	}
	return o.Verdict
}

// countAccepted adds the burst's accepted fast-path packets, which
// arrived on port inPort, to the counters.
func (w *Worker) countAccepted(inPort uint16) {
	a := &w.accepted
	if a.packets == 0 {
		return
	}
	c := &w.counters
	w.n += a.packets
	c.Packets += a.packets
	c.Bytes += a.bytes
	c.ByState[ctstate.Established] += a.packets
	c.CacheHits += a.packets
	w.countVerdict(VerdictAccept, packet.ReasonNone, inPort, a.packets, a.bytes)
	w.countRule(a.rule, a.packets, a.bytes)
	a.packets, a.bytes = 0, 0
}

// countVerdict counts packets packets of bytes bytes in all from port
// inPort by their verdict (and the reason of ones not accepted).
func (w *Worker) countVerdict(v Verdict, reason packet.DropReason, inPort uint16, packets, bytes uint64) {
	c := &w.counters
	c.ByVerdict[v] += packets
	c.BytesVerdict[v] += bytes
	pi := min(int(inPort), MaxPorts-1)
	c.PortVerdict[pi][v] += packets
	c.PortVerdictBytes[pi][v] += bytes
	if v != VerdictAccept {
		c.ByReason[reason] += packets
	}
}

// The verdict cache is one 32-bit word per connection, shared by both
// directions:
//
//	| generation tag (12) | valid: original (1) | valid: reply (1) | verdict (2) | rule (16) |
//
// Zero means empty. It holds one decision (rule and verdict) and says for
// which directions it stands; a direction whose packets another rule
// decides is simply not cached. Only ESTABLISHED packets use it, and only
// when the ruleset says the decision depended on nothing but
// flow-invariant fields, so a cached verdict is the one Classify would
// give again until the ruleset changes (a new generation tag).
const (
	cacheTagShift   = 20
	cacheValidShift = 18
	cacheVerdShift  = 16
	cachePolicyRule = 0xffff
)

func cacheTag(gen uint64) uint32 { return uint32(gen%0xfff) + 1 }

func (w *Worker) classify(rs *rules.Ruleset, p *packet.Parsed, o *Outcome, res *conntrack.Result, inPort uint16) (rules.Match, bool) {
	var slot *uint32
	if o.State == ctstate.Established && !w.cfg.NoVerdictCache {
		slot = w.tracker.VerdictCache(res)
	}
	if slot != nil {
		if m, ok := w.cached(rs, *slot, o.Dir); ok {
			return m, true
		}
	}
	tag := w.tag
	valid := uint32(1) << (cacheValidShift + 1 - uint(o.Dir)) // original: bit 19, reply: bit 18
	m := rs.Classify(p, o.State, o.Dir, inPort)
	if slot != nil && m.Cacheable && !m.Log && m.Rule < cachePolicyRule { // logged packets are each classified
		rule := uint32(cachePolicyRule)
		if m.Rule >= 0 {
			rule = uint32(m.Rule)
		}
		decision := uint32(m.Verdict)<<cacheVerdShift | rule
		word := *slot
		switch {
		case word>>cacheTagShift != tag:
			*slot = tag<<cacheTagShift | valid | decision
		case word&(3<<cacheVerdShift|0xffff) == decision:
			*slot = word | valid
		}
	}
	return m, false
}

// cached returns the decision the verdict-cache word holds for an
// ESTABLISHED packet in direction dir under ruleset rs, if it holds one.
func (w *Worker) cached(rs *rules.Ruleset, word uint32, dir ctstate.Dir) (rules.Match, bool) {
	valid := uint32(1) << (cacheValidShift + 1 - uint(dir)) // original: bit 19, reply: bit 18
	if word&valid == 0 {
		return rules.Match{}, false
	}
	current := word>>cacheTagShift == w.tag
	if !current && !rs.KeepVerdicts {
		return rules.Match{}, false
	}
	m := rules.Match{Verdict: rules.Verdict(word >> cacheVerdShift & 3), Rule: int32(word & 0xffff)}
	if m.Rule == cachePolicyRule || !current {
		// The policy decided, or a rule of an older ruleset did (its
		// index means nothing now): count it under the policy.
		m.Rule = rules.NoRule
	}
	return m, true
}

// adoptRuleset resizes the per-rule counters when a new generation
// arrives, and takes on the live settings it changes (applyLive). It
// allocates only then, never per packet.
func (w *Worker) adoptRuleset(rs *rules.Ruleset) {
	c := &w.counters
	if c.RulesGeneration == rs.Generation && c.RulePackets != nil {
		return
	}
	if w.running != nil && rs.Config() != w.running {
		w.applyLive(w.running, rs.Config())
	}
	w.running = rs.Config()
	n := len(rs.Rules()) + 1
	c.RulesGeneration = rs.Generation
	w.tag = cacheTag(rs.Generation)
	c.RulePackets = make([]uint64, n)
	c.RuleBytes = make([]uint64, n)
}

// publishEvery is how many bursts pass between counter snapshots.
const publishEvery = 64

func (w *Worker) maybePublish() {
	w.snapSkip++
	if w.snapSkip < publishEvery {
		return
	}
	if w.snapMu.TryLock() {
		w.counters.copyTo(&w.snap)
		w.snapMu.Unlock()
		w.snapSkip = 0
	}
}

// Publish makes the current counters visible to Snapshot at once (the
// owner calls it when it stops or idles).
func (w *Worker) Publish() {
	w.snapMu.Lock()
	w.counters.copyTo(&w.snap)
	w.snapMu.Unlock()
	w.snapSkip = 0
}

// Snapshot copies the last published counters into dst. Any goroutine
// may call it; it never touches the live counters.
func (w *Worker) Snapshot(dst *Counters) {
	w.snapMu.Lock()
	w.snap.copyTo(dst)
	w.snapMu.Unlock()
}
