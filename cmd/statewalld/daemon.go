package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/statewall/statewall/config"
	"github.com/statewall/statewall/config/reload"
	"github.com/statewall/statewall/dataplane/control"
	"github.com/statewall/statewall/dataplane/dpdk"
	"github.com/statewall/statewall/dataplane/engine"
	"github.com/statewall/statewall/dataplane/metrics"
	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/dataplane/pipeline"
	"github.com/statewall/statewall/dataplane/port"
	"github.com/statewall/statewall/dataplane/rss"
	"github.com/statewall/statewall/flowtable/arena"
	"github.com/statewall/statewall/flowtable/ctstate"
)

type daemonOptions struct {
	configPath    string
	statsInterval time.Duration
	duration      time.Duration
	hup           <-chan os.Signal
}

// monoClock is the daemon's clock: milliseconds since start.
type monoClock struct{ start time.Time }

func (c monoClock) NowMillis() uint32 { return uint32(time.Since(c.start) / time.Millisecond) }

// pollClock is one worker's clock: monoClock read on every
// pollClockEvery-th call, the value kept in between. A worker reads its
// clock once per poll, and the monotonic clock is a vDSO call, about 1%
// of a packet's cost at 10 Mpps. 16 polls take microseconds, a few
// milliseconds at worst (full bursts on every port), and the clock does
// not depend on another goroutine being scheduled: a ticker goroutine
// lagged by up to 42 ms with every CPU running a worker. Only its worker
// may call it.
type pollClock struct {
	mono  monoClock
	ms    uint32
	calls uint32
}

const pollClockEvery = 16

func (c *pollClock) NowMillis() uint32 {
	if c.calls%pollClockEvery == 0 {
		c.ms = c.mono.NowMillis()
	}
	c.calls++
	return c.ms
}

// every calls fn every d until ctx ends.
func every(ctx context.Context, d time.Duration, fn func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}

// ealArgs builds DPDK's EAL arguments: the configured ones, plus a core
// list (main lcore and worker lcores) and --no-huge when hugepages are
// off, unless the configuration already says.
func ealArgs(cfg *config.Config) []string {
	args := append([]string(nil), cfg.Dataplane.EALArgs...)
	has := func(flags ...string) bool {
		for _, a := range args {
			for _, f := range flags {
				if a == f || strings.HasPrefix(a, f+"=") {
					return true
				}
			}
		}
		return false
	}
	if !has("-l", "--lcores", "-c") {
		cores := []string{"0"}
		for _, l := range cfg.Dataplane.Lcores {
			if l != 0 {
				cores = append(cores, strconv.Itoa(l))
			}
		}
		args = append(args, "-l", strings.Join(cores, ","))
	}
	if !cfg.Dataplane.Hugepages && !has("--no-huge") {
		args = append(args, "--no-huge")
	}
	if has("--no-huge") {
		// --in-memory is about not keeping hugepage files; EAL refuses it
		// together with --no-huge, which keeps nothing anyway.
		kept := args[:0]
		for _, a := range args {
			if a != "--in-memory" {
				kept = append(kept, a)
			}
		}
		args = kept
		if !has("--no-shconf") {
			args = append(args, "--no-shconf")
		}
	}
	if !has("--log-level") {
		args = append(args, "--log-level=lib.eal:warning")
	}
	return args
}

func runDaemon(ctx context.Context, opts daemonOptions, logger *slog.Logger, stdout io.Writer) error {
	ctrl, err := reload.New(reload.Options{Path: opts.configPath, Logger: logger, Signals: opts.hup})
	if err != nil {
		return err
	}
	cfg := ctrl.Ruleset().Config()
	nWorkers := max(cfg.Dataplane.Workers, 1)

	eal, err := dpdk.Init(ealArgs(cfg))
	if err != nil {
		return fmt.Errorf("starting DPDK: %w", err)
	}
	defer eal.Cleanup()

	// Enough mbufs for every RX and TX ring plus bursts in flight, with
	// room for standard frames; a pool for benchmark sources that preload
	// millions of small frames (net_pcap infinite_rx) gets small mbufs.
	mbufs := 4095
	dataRoom := 0
	for _, p := range cfg.Ports {
		room, err := dpdk.DeviceDataRoom(p.Device)
		if err != nil {
			return fmt.Errorf("port %s: %w", p.Name, err)
		}
		if room == 0 && !strings.Contains(p.Device, "no-rx=1") {
			room = dpdk.DefaultDataRoom // a port that receives standard frames
		}
		dataRoom = max(dataRoom, room)
		mbufs += 2 * max(p.Queues, nWorkers) * dpdk.DefaultDescriptors
		// A net_pcap source with infinite_rx keeps its whole capture in
		// mbufs of the pool (benchmarks).
		extra, err := dpdk.DeviceMbufs(p.Device)
		if err != nil {
			return fmt.Errorf("port %s: %w", p.Name, err)
		}
		mbufs += extra
	}
	if dataRoom == 0 {
		dataRoom = dpdk.DefaultDataRoom
	}
	pool, err := eal.NewMempool("statewall_mbufs", mbufs, 256, dataRoom, -1)
	if err != nil {
		return fmt.Errorf("creating the mbuf pool (%d mbufs): %w", mbufs, err)
	}
	defer pool.Close()

	ports := make([]*dpdk.Port, len(cfg.Ports))
	defer func() {
		for _, p := range ports {
			if p != nil {
				_ = p.Stop()
				_ = p.Close()
			}
		}
	}()
	for i, pc := range cfg.Ports {
		q := max(pc.Queues, 1)
		// Every worker transmits on a TX queue of its own, where the
		// device has enough of them.
		txq := max(q, nWorkers)
		if id, _, err := eal.PortID(pc.Device); err == nil {
			if info, err := eal.DeviceInfo(id); err == nil && info.MaxTxQueues > 0 {
				txq = min(txq, info.MaxTxQueues)
				q = min(q, max(info.MaxRxQueues, 1))
			}
		}
		p, err := eal.OpenPort(pc.Device, dpdk.PortConfig{RxQueues: q, TxQueues: txq, Pool: pool,
			Burst: cfg.Dataplane.Burst, Promiscuous: true, RSS: q > 1, ChecksumOffload: cfg.Dataplane.ChecksumOffload})
		if err != nil {
			return fmt.Errorf("port %s (%s): %w", pc.Name, pc.Device, err)
		}
		ports[i] = p
		logger.Info("port", "name", pc.Name, "device", pc.Device, "driver", p.Info().Driver, "rx_queues", p.RxQueues(),
			"tx_queues", p.TxQueues(), "rss", p.RSS(), "checksum_offload", strings.Join(p.ChecksumOffloads(), ","))
	}

	shared, err := engine.NewShared(cfg, ctrl.Pointer())
	if err != nil {
		return err
	}
	clock := monoClock{start: time.Now()}
	rt := &engine.Runtime{Shared: shared, Reloads: ctrl, Started: time.Now()}
	for _, p := range ports {
		rt.PortList = append(rt.PortList, engine.PortHandle{
			Port: p,
			Up: func() bool {
				l, err := p.Link()
				return err == nil && l.Up
			},
			ChecksumOffloads: p.ChecksumOffloads(),
			XStats: func() []metrics.XStat {
				xs, err := p.XStats()
				if err != nil {
					return nil
				}
				out := make([]metrics.XStat, len(xs))
				for j, x := range xs {
					out[j] = metrics.XStat{Name: x.Name, Value: x.Value}
				}
				return out
			},
		})
	}

	// One tracker per worker, its tables in hugepage (DPDK) memory when
	// there is some, else in an anonymous mapping.
	bytes4, bytes6 := engine.TableMemory(cfg, nWorkers)
	var freeMem []func()
	defer func() {
		for _, f := range freeMem {
			f()
		}
	}()
	alloc := func(bytes int64) ([]byte, string, error) {
		if cfg.Dataplane.Hugepages && eal.HasHugepages() {
			m, err := eal.AllocMemory(bytes, -1)
			if err == nil {
				freeMem = append(freeMem, func() { eal.FreeMemory(m) })
				return m, "dpdk-hugepages", nil
			}
			logger.Warn("DPDK memory for the flow table unavailable; using ordinary memory", "err", err)
		}
		m, huge, err := arena.Alloc(bytes)
		if err != nil {
			return nil, "", err
		}
		freeMem = append(freeMem, func() { _ = arena.Free(m) })
		if huge {
			return m, "hugepages", nil
		}
		return m, "4k-pages", nil
	}
	if !cfg.Dataplane.Hugepages || !eal.HasHugepages() {
		logger.Warn("DPDK runs without hugepages: mbufs (and flow tables unless hugepages are reserved for them) use ordinary pages; expect lower rates")
	}

	newFrame := func(data []byte) (port.Frame, bool) {
		f, err := pool.Alloc(data)
		return f, err == nil
	}
	// A port with fewer TX queues than workers has them shared: DPDK's
	// tx_burst is not safe on one queue from two threads, so each shared
	// queue gets a lock (uncontended, and absent where queues suffice).
	txPorts := make([]port.Port, len(ports))
	for i, p := range ports {
		txPorts[i] = p
		if p.TxQueues() < nWorkers {
			txPorts[i] = newSharedTx(p)
		}
	}

	// Rings for ports with fewer RX queues than workers: spreadRings[i][k]
	// carries frames of port i from worker 0 to worker k.
	spreadRings := make([][]pipeline.FrameRing, len(ports))
	for i, p := range ports {
		if p.RxQueues() > 1 || nWorkers == 1 {
			continue
		}
		spreadRings[i] = make([]pipeline.FrameRing, nWorkers)
		for k := 1; k < nWorkers; k++ {
			r, err := eal.NewRing(fmt.Sprintf("sw_spread_%d_%d", i, k), 4096, cfg.Dataplane.Burst, -1)
			if err != nil {
				return fmt.Errorf("ring for port %s, worker %d: %w", cfg.Ports[i].Name, k, err)
			}
			defer r.Close()
			spreadRings[i][k] = r
		}
	}

	// Ports with symmetric RSS over a queue per worker: ICMP errors the
	// NIC hashed on their outer addresses go to the worker owning the
	// connection they quote, through redirectRings[i][from][to].
	redirects := make([][]*pipeline.Redirect, len(ports))
	redirectRings := make([][][]pipeline.FrameRing, len(ports))
	for i, p := range ports {
		if !p.RSS() || nWorkers == 1 || p.RxQueues() < nWorkers {
			continue
		}
		key, _, err := p.RSSConfig()
		if err != nil {
			return fmt.Errorf("port %s: reading its RSS key: %w", cfg.Ports[i].Name, err)
		}
		reta, err := p.RETA()
		if err != nil {
			return fmt.Errorf("port %s: reading its RSS redirection table: %w", cfg.Ports[i].Name, err)
		}
		table := &rss.Table{Key: key, RETA: reta}
		owners := make([]int, p.RxQueues())
		for q := range owners {
			owners[q] = -1
			if q < nWorkers {
				owners[q] = q
			}
		}
		redirectRings[i] = make([][]pipeline.FrameRing, nWorkers)
		redirects[i] = make([]*pipeline.Redirect, nWorkers)
		for from := 0; from < nWorkers; from++ {
			redirectRings[i][from] = make([]pipeline.FrameRing, nWorkers)
			for to := 0; to < nWorkers; to++ {
				if to == from {
					continue
				}
				r, err := eal.NewRing(fmt.Sprintf("sw_redir_%d_%d_%d", i, from, to), 1024, cfg.Dataplane.Burst, -1)
				if err != nil {
					return fmt.Errorf("ring for port %s: %w", cfg.Ports[i].Name, err)
				}
				defer r.Close()
				redirectRings[i][from][to] = r
			}
			redirects[i][from] = &pipeline.Redirect{Self: from, QueueOwner: owners, RSS: table, Rings: redirectRings[i][from]}
		}
		if p.RxQueues() > nWorkers {
			logger.Warn("port has more RX queues than workers: the extra queues are not polled", "port", cfg.Ports[i].Name)
		}
	}

	// Packets that rules with `log = true` decided, from every worker.
	logCh := make(chan pipeline.LogRecord, 4096)

	for w := 0; w < nWorkers; w++ {
		mem4, kind, err := alloc(bytes4)
		if err != nil {
			return fmt.Errorf("worker %d flow table memory: %w", w, err)
		}
		mem6, _, err := alloc(bytes6)
		if err != nil {
			return fmt.Errorf("worker %d flow table memory: %w", w, err)
		}
		tr, err := shared.NewTracker(nWorkers, mem4, mem6)
		if err != nil {
			return fmt.Errorf("worker %d tracker: %w", w, err)
		}
		c4, c6 := tr.Capacity()
		logger.Info("flow table", "worker", w, "flows", tr.MaxConns(), "ipv4", c4, "ipv6", c6,
			"bytes_per_flow", tr.MemoryBytes()/int64(max(c4+c6, 1)), "memory", tr.MemoryBytes(), "pages", kind)
		var bindings []pipeline.Binding
		for i, pc := range cfg.Ports {
			peer := peerIndex(cfg, pc.Peer)
			if peer < 0 {
				continue
			}
			b := pipeline.Binding{In: txPorts[i], InIndex: uint16(i), Queue: w, Out: txPorts[peer], OutQ: w % ports[peer].TxQueues(),
				NewFrame: newFrame}
			switch rq := ports[i].RxQueues(); {
			case rq == 1 && nWorkers > 1:
				// One queue for several workers: worker 0 reads it and hands
				// each frame to the worker owning its connection.
				switch {
				case w == 0:
					b.Spread = &pipeline.Spread{Self: 0, Rings: spreadRings[i], Link: ports[i].LinkType()}
				default:
					b.In = &pipeline.RingPort{Ring: spreadRings[i][w], Port: txPorts[i], TxQueue: w % ports[i].TxQueues()}
				}
			case w >= rq:
				continue // no queue left for this worker on this port
			}
			if redirects[i] != nil {
				b.Redirect = redirects[i][w]
				for from := range redirectRings[i] {
					if from != w {
						bindings = append(bindings, pipeline.Binding{
							In:      &pipeline.RingPort{Ring: redirectRings[i][from][w], Port: txPorts[i], TxQueue: w % ports[i].TxQueues()},
							InIndex: uint16(i), Out: txPorts[peer], OutQ: w % ports[peer].TxQueues(), NewFrame: newFrame})
					}
				}
			}
			bindings = append(bindings, b)
		}
		if len(bindings) == 0 && w > 0 {
			logger.Warn("worker has no queue to poll (ports have fewer queues than workers)", "worker", w)
		}
		rt.Pipelines = append(rt.Pipelines, pipeline.NewWorker(pipeline.Config{ID: w, Burst: cfg.Dataplane.Burst, AcceptNonIP: true,
			RejectRate: cfg.Reject.Rate, RejectBurst: cfg.Reject.Burst, Log: logCh,
			VerifyChecksums: cfg.Conntrack.Checksum, Parse: parseOptions(&cfg.Dataplane)},
			bindings, tr, shared.Ruleset, &pollClock{mono: clock}, nil))
	}

	for _, p := range ports {
		if err := p.Start(); err != nil {
			return fmt.Errorf("starting port %s: %w", p.Name(), err)
		}
	}

	// The control goroutine's services.
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go ctrl.Run(runCtx)
	if cfg.Metrics.Listen != "" {
		reg := prometheus.NewRegistry()
		reg.MustRegister(metrics.NewCollector(rt))
		ln, err := net.Listen("tcp", cfg.Metrics.Listen)
		if err != nil {
			return fmt.Errorf("metrics listener: %w", err)
		}
		srv := &http.Server{Handler: metrics.Handler(reg, rt.Ready), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
		logger.Info("metrics", "url", "http://"+ln.Addr().String()+"/metrics")
	}
	if cfg.Control.Socket != "" {
		cs, err := control.Listen(control.Config{Path: cfg.Control.Socket, Mode: fs.FileMode(cfg.Control.Mode),
			Source: rt, Conntrack: rt, Reloader: rt.Reloader()})
		if err != nil {
			return fmt.Errorf("control socket: %w", err)
		}
		go func() { _ = cs.Serve() }()
		defer cs.Close()
		logger.Info("control", "socket", cs.Path())
	}
	go logPackets(runCtx, logger, logCh, shared)
	if x := shared.Expectations; x != nil {
		go every(runCtx, time.Second, func() { x.Expire(clock.NowMillis()) })
	}

	// Workers: one goroutine each, locked to its OS thread and pinned to
	// its lcore's CPU: the configured lcores, else the EAL's worker
	// lcores (its core list without the main lcore), as DPDK applications
	// place theirs. With workers on cores of their own, the daemon's other
	// threads keep to the main lcore's CPU.
	lcores := cfg.Dataplane.Lcores
	if len(lcores) == 0 {
		lcores = eal.WorkerLcores()
		if len(lcores) > 0 && len(lcores) < nWorkers {
			logger.Warn("fewer EAL worker lcores than workers: the rest are not pinned", "workers", nWorkers, "lcores", lcores)
		}
	}
	if len(lcores) > 0 {
		if err := confineThreads(eal.LcoreCPU(eal.MainLcore())); err != nil {
			logger.Warn("keeping the daemon's threads to the main lcore", "err", err)
		}
	}
	cpus := make([]int, len(rt.Pipelines)) // -1: not pinned
	for w := range cpus {
		cpus[w] = -1
		if w < len(lcores) {
			if cpus[w] = eal.LcoreCPU(lcores[w]); cpus[w] < 0 {
				cpus[w] = lcores[w] // not in the EAL's list: lcore n is CPU n
			}
		}
	}
	rt.WorkerCPUs = cpus
	var stopping atomic.Bool
	var wg sync.WaitGroup
	for w, wk := range rt.Pipelines {
		cpu := cpus[w]
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			if cpu >= 0 {
				if err := dpdk.PinThread(cpu); err != nil {
					logger.Warn("pinning worker", "worker", w, "cpu", cpu, "err", err)
				}
			}
			// An lcore id gives the thread its own mempool cache.
			if _, err := eal.RegisterThread(); err == nil {
				defer eal.UnregisterThread()
			}
			pollLoop(wk, &stopping)
		}()
	}
	rt.SetReady(true)
	logger.Info("running", "workers", nWorkers, "worker_cpus", cpus, "ports", len(ports), "generation", ctrl.Generation())

	var statsTick <-chan time.Time
	if opts.statsInterval > 0 {
		t := time.NewTicker(opts.statsInterval)
		defer t.Stop()
		statsTick = t.C
	}
	var deadline <-chan time.Time
	if opts.duration > 0 {
		deadline = time.After(opts.duration)
	}
wait:
	for {
		select {
		case <-ctx.Done():
			break wait
		case <-deadline:
			break wait
		case <-statsTick:
			logSummary(logger, rt)
		}
	}
	rt.SetReady(false)
	stopping.Store(true)
	wg.Wait()
	writeSummary(stdout, rt)
	return nil
}

// pollLoop runs a worker until stopping is set. After many empty polls in
// a row it naps briefly, so an idle lab or test machine keeps a core.
func pollLoop(w *pipeline.Worker, stopping *atomic.Bool) {
	idle := 0
	for !stopping.Load() {
		if w.Poll() > 0 {
			idle = 0
			continue
		}
		if idle++; idle > 4096 {
			time.Sleep(20 * time.Microsecond)
		}
	}
	w.Publish()
}

// logPackets writes the records of logged packets as they come.
func logPackets(ctx context.Context, logger *slog.Logger, ch <-chan pipeline.LogRecord, shared *engine.Shared) {
	for {
		select {
		case <-ctx.Done():
			return
		case r := <-ch:
			rs := shared.Ruleset.Load()
			rule := rs.PolicyName()
			if r.Rule >= 0 {
				rule = fmt.Sprintf("#%d", r.Rule)
				if r.Generation == rs.Generation && r.Rule < len(rs.Rules()) {
					rule = rs.Rules()[r.Rule].Name
				}
			}
			attrs := []any{"rule", rule, "verdict", r.Verdict.String(), "state", r.State.String(), "dir", r.Dir.String(),
				"worker", r.Worker, "in_port", r.InPort, "proto", r.Tuple.Proto,
				"src", addrPort(r.Tuple.Src, r.Tuple.SrcPort, r.Tuple.Family), "dst", addrPort(r.Tuple.Dst, r.Tuple.DstPort, r.Tuple.Family),
				"len", r.Length}
			if r.Tuple.Proto == packet.ProtoTCP {
				attrs = append(attrs, "tcp_flags", r.TCPFlags)
			}
			if r.Reason != packet.ReasonNone {
				attrs = append(attrs, "reason", r.Reason.String())
			}
			logger.Info("packet", attrs...)
		}
	}
}

func addrPort(a [16]byte, port uint16, fam packet.Family) string {
	if fam == packet.FamilyIPv4 {
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(a[:4])), port).String()
	}
	return netip.AddrPortFrom(netip.AddrFrom16(a), port).String()
}

// sharedTx serialises transmission on the TX queues of a port that
// workers share.
type sharedTx struct {
	port.Port
	mu []sync.Mutex // one per TX queue
}

func newSharedTx(p *dpdk.Port) *sharedTx {
	return &sharedTx{Port: p, mu: make([]sync.Mutex, p.TxQueues())}
}

// TxBurst transmits under the queue's lock.
func (s *sharedTx) TxBurst(q int, frames []port.Frame) int {
	m := &s.mu[q%len(s.mu)]
	m.Lock()
	defer m.Unlock()
	return s.Port.TxBurst(q, frames)
}

func peerIndex(cfg *config.Config, name string) int {
	for i, p := range cfg.Ports {
		if p.Name == name {
			return i
		}
	}
	return -1
}

// totals sums the workers' published counters, with the per-rule packet
// counts of the ruleset in force.
func totals(rt *engine.Runtime) (total metrics.Counters, rules metrics.Ruleset, rulePackets []uint64) {
	var c metrics.Counters
	rules = rt.Rules()
	rulePackets = make([]uint64, len(rules.Rules))
	for i := range rt.Pipelines {
		rt.WorkerCounters(i, &c)
		total.Packets += c.Packets
		for v := range c.ByVerdict {
			total.ByVerdict[v] += c.ByVerdict[v]
		}
		for s := range c.ByState {
			total.ByState[s] += c.ByState[s]
		}
		if c.RulesGeneration == rules.Generation {
			for r := range c.RulePackets {
				if r < len(rulePackets) {
					rulePackets[r] += c.RulePackets[r]
				}
			}
		}
	}
	return total, rules, rulePackets
}

// logSummary logs the traffic totals so far.
func logSummary(logger *slog.Logger, rt *engine.Runtime) {
	t, _, _ := totals(rt)
	logger.Info("traffic", "packets", t.Packets, "accepted", t.ByVerdict[metrics.VerdictAccept],
		"dropped", t.ByVerdict[metrics.VerdictDrop]+t.ByVerdict[metrics.VerdictReject])
}

// writeSummary prints what the firewall did: per-state and per-rule counts.
func writeSummary(w io.Writer, rt *engine.Runtime) {
	total, rules, ruleP := totals(rt)
	fmt.Fprintf(w, "statewalld: %d packets: accepted %d, dropped %d, rejected %d\n", total.Packets,
		total.ByVerdict[metrics.VerdictAccept], total.ByVerdict[metrics.VerdictDrop], total.ByVerdict[metrics.VerdictReject])
	fmt.Fprintf(w, "by state:")
	for s, n := range total.ByState {
		fmt.Fprintf(w, " %s=%d", stateName(s), n)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "by rule (generation %d):\n", rules.Generation)
	for i, r := range rules.Rules {
		fmt.Fprintf(w, "  %-20s %-7s %d\n", r.Name, r.Verdict, ruleP[i])
	}
}

func stateName(s int) string { return ctstate.State(s).String() }

// parseOptions are the header checks of the daemon's workers: IPv4
// header checksums verified as ip_rcv verifies them, 0 included (a frame
// on the wire always has its checksum filled in), unless the config says
// that 0 means a transmit offload (sender-side captures through
// net_pcap).
func parseOptions(dp *config.Dataplane) packet.Options {
	if dp.IPv4ChecksumZeroOK {
		return packet.Options{IPv4Checksum: packet.ChecksumVerifyNonZero}
	}
	return packet.Options{IPv4Checksum: packet.ChecksumVerify}
}
