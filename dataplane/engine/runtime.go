package engine

import (
	"net/netip"

	"github.com/statewall/statewall/alg"
	"github.com/statewall/statewall/config/rules"
	"sync/atomic"
	"time"

	"github.com/statewall/statewall/config/reload"
	"github.com/statewall/statewall/dataplane/control"
	"github.com/statewall/statewall/dataplane/metrics"
	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/dataplane/pipeline"
	"github.com/statewall/statewall/dataplane/port"
	"github.com/statewall/statewall/flowtable/conntrack"
)

// PortHandle is a port as the runtime reports it.
type PortHandle struct {
	Port port.Port
	// Up reports the link state (nil: always up).
	Up func() bool
	// XStats reads the driver's extended statistics (nil: none).
	XStats func() []metrics.XStat
	// ChecksumOffloads names the checksums the device verifies on
	// receipt ("ipv4", "tcp", "udp").
	ChecksumOffloads []string
}

// Runtime is a running engine: its shared parts, its workers and its
// ports. It serves the metrics collector (metrics.Source), the control
// API's connection listing (control.Conntrack) and its reload
// (control.Reloader, through Reloader). Every method may be called from
// any goroutine: counters come from the workers' published snapshots and
// table work runs on the owning worker between bursts (Worker.Do), a
// bounded chunk at a time.
type Runtime struct {
	Shared    *Shared
	Pipelines []*pipeline.Worker
	PortList  []PortHandle
	// WorkerCPUs are the CPUs the workers are pinned to, -1 for one that
	// is not (nil: none is).
	WorkerCPUs []int
	// Reloads is the reload controller; nil when the ruleset never changes.
	Reloads *reload.Controller
	// Started is when the runtime began (timeouts in listings count from
	// the workers' clocks; this only dates the initial load).
	Started time.Time

	ready atomic.Bool
}

// SetReady marks the runtime ready (ports up, ruleset loaded): /readyz
// answers 200 from then on.
func (r *Runtime) SetReady(v bool) { r.ready.Store(v) }

// Ready reports whether SetReady(true) was called.
func (r *Runtime) Ready() bool { return r.ready.Load() }

var _ metrics.Source = (*Runtime)(nil)
var _ control.Conntrack = (*Runtime)(nil)

// Workers returns the number of workers.
func (r *Runtime) Workers() int { return len(r.Pipelines) }

// WorkerCounters copies worker i's last published counters into dst.
func (r *Runtime) WorkerCounters(i int, dst *metrics.Counters) {
	var c pipeline.Counters
	r.Pipelines[i].Snapshot(&c)
	dst.Bursts, dst.Packets, dst.Bytes = c.Bursts, c.Packets, c.Bytes
	dst.ByVerdict, dst.BytesVerdict = c.ByVerdict, c.BytesVerdict
	ports := min(max(len(r.PortList), 1), pipeline.MaxPorts)
	dst.PortPackets = append(dst.PortPackets[:0], c.PortVerdict[:ports]...)
	dst.PortBytes = append(dst.PortBytes[:0], c.PortVerdictBytes[:ports]...)
	dst.ByReason, dst.ByState = c.ByReason, c.ByState
	dst.NotTracked, dst.CacheHits, dst.TxDropped = c.NotTracked, c.CacheHits, c.TxDropped
	dst.RejectsSent, dst.RejectsLimited = c.RejectsSent, c.RejectsLimited
	dst.HandedOver, dst.HandOverDropped = c.Spread, c.SpreadDropped
	dst.Logged, dst.LogDropped = c.Logged, c.LogDropped
	dst.BurstBuckets = pipeline.BurstBuckets[:]
	dst.BurstSizes = append(dst.BurstSizes[:0], c.BurstSizes[:]...)
	dst.RulesGeneration = c.RulesGeneration
	dst.RulePackets = append(dst.RulePackets[:0], c.RulePackets...)
	dst.RuleBytes = append(dst.RuleBytes[:0], c.RuleBytes...)
}

// Ports returns every port's counters.
func (r *Runtime) Ports() []metrics.PortInfo {
	out := make([]metrics.PortInfo, 0, len(r.PortList))
	for _, p := range r.PortList {
		pi := metrics.PortInfo{Name: p.Port.Name(), Up: true, Stats: p.Port.Stats(), ChecksumOffloads: p.ChecksumOffloads}
		if p.Up != nil {
			pi.Up = p.Up()
		}
		if p.XStats != nil {
			pi.XStats = p.XStats()
		}
		out = append(out, pi)
	}
	return out
}

// WorkerCPU returns the CPU worker i is pinned to, or -1.
func (r *Runtime) WorkerCPU(i int) int {
	if i < 0 || i >= len(r.WorkerCPUs) {
		return -1
	}
	return r.WorkerCPUs[i]
}

// FlowTables returns each worker's table figures, read on the worker.
func (r *Runtime) FlowTables() []metrics.FlowTableStats {
	out := make([]metrics.FlowTableStats, len(r.Pipelines))
	for i, w := range r.Pipelines {
		var st conntrack.Stats
		var mem int64
		var cursor uint64
		w.Do(func(t *conntrack.Tracker) {
			st, mem = t.Counters(), t.MemoryBytes()
			cursor = t.CountEntries(0, countChunk, &st)
		})
		for cursor != 0 { // the rest a chunk at a time, between bursts
			w.Do(func(t *conntrack.Tracker) { cursor = t.CountEntries(cursor, countChunk, &st) })
		}
		fs := metrics.FlowTableStats{Worker: i, Capacity: uint64(st.MaxConns), MemoryBytes: uint64(mem)}
		for _, p := range []struct {
			name string
			s    conntrack.ProtoStats
		}{{"tcp", st.TCP}, {"udp", st.UDP}, {"icmp", st.ICMP}, {"icmpv6", st.ICMPv6}, {"generic", st.Generic}} {
			fs.Protos = append(fs.Protos, metrics.ProtoStats{Proto: p.name, Entries: p.s.Entries, Inserts: p.s.Inserts,
				Evictions: p.s.EarlyDrops, Expiries: p.s.Expiries, TableFull: p.s.TableFull})
		}
		for s, n := range st.TCPStates {
			if s == int(conntrack.TCPNone) {
				continue
			}
			fs.TCPStates = append(fs.TCPStates, metrics.StateCount{State: conntrack.TCPState(s).String(), Entries: n})
		}
		out[i] = fs
	}
	return out
}

// Expectations returns the shared expectation table's figures.
func (r *Runtime) Expectations() metrics.ExpectationStats {
	x := r.Shared.Expectations
	if x == nil {
		return metrics.ExpectationStats{}
	}
	s := x.Stats()
	es := metrics.ExpectationStats{Current: uint64(x.Len()), Capacity: uint64(x.Cap()),
		Created: s.Created, Matched: s.Matched, Expired: s.Expired}
	for i, n := range s.Refused {
		es.Refused = append(es.Refused, metrics.ReasonCount{Reason: refusalName(i), Count: n})
	}
	return es
}

// Rules returns the ruleset in force, the policy last.
func (r *Runtime) Rules() metrics.Ruleset {
	rs := r.Shared.Ruleset.Load()
	out := metrics.Ruleset{Generation: rs.Generation}
	for _, ri := range rs.Rules() {
		out.Rules = append(out.Rules, metrics.RuleInfo{Name: ri.Name, Verdict: ri.Verdict.String(), Match: ri.Match})
	}
	out.Rules = append(out.Rules, metrics.RuleInfo{Name: rs.PolicyName(), Verdict: policyVerdict(rs)})
	return out
}

// Reload returns the reload counters.
func (r *Runtime) Reload() metrics.ReloadStats {
	rs := r.Shared.Ruleset.Load()
	if r.Reloads == nil {
		return metrics.ReloadStats{Successes: 1, LastSuccess: r.Started, Generation: rs.Generation}
	}
	c := r.Reloads
	st := metrics.ReloadStats{Successes: c.Successes(), Failures: c.Failures(), LastSuccess: c.LastSuccess(), Generation: c.Generation()}
	if err := c.LastError(); err != nil {
		st.LastError = err.Error()
	}
	return st
}

// countChunk bounds the entries one worker counts per Do call.
const countChunk = 16384

// listChunk bounds the entries one worker copies out per Do call, so no
// worker stops forwarding for more than about a burst's time.
const listChunk = 1024

// List streams the connections filter selects, chunk by chunk, from every
// worker. chunk runs outside the workers.
func (r *Runtime) List(filter control.Filter, chunk func([]control.Entry) error) error {
	buf := make([]control.Entry, 0, listChunk)
	for wi, w := range r.Pipelines {
		var cursor uint64
		for {
			buf = buf[:0]
			w.Do(func(t *conntrack.Tracker) {
				cursor = t.RangeFrom(cursor, listChunk, func(e conntrack.EntryInfo) {
					ce := entryOf(e, wi)
					if filter.Match(&ce) {
						buf = append(buf, ce)
					}
				})
			})
			if len(buf) > 0 {
				if err := chunk(buf); err != nil {
					return err
				}
			}
			if cursor == 0 {
				break
			}
		}
	}
	return nil
}

// Flush removes the connections filter selects and returns how many.
func (r *Runtime) Flush(filter control.Filter) (int, error) {
	total := 0
	for wi, w := range r.Pipelines {
		w.Do(func(t *conntrack.Tracker) {
			if filter.IsZero() {
				total += t.Flush(nil)
				return
			}
			total += t.Flush(func(e conntrack.EntryInfo) bool {
				ce := entryOf(e, wi)
				return filter.Match(&ce)
			})
		})
	}
	return total, nil
}

// Count returns the number of tracked connections.
func (r *Runtime) Count() int {
	n := 0
	for _, w := range r.Pipelines {
		w.Do(func(t *conntrack.Tracker) {
			v4, v6 := t.Len()
			n += v4 + v6
		})
	}
	return n
}

// Reloader returns the control API's view of the reload controller.
func (r *Runtime) Reloader() control.Reloader {
	if r.Reloads == nil {
		return nil
	}
	return r.Reloads
}

// entryOf converts a tracker's entry description for the control API.
func entryOf(e conntrack.EntryInfo, worker int) control.Entry {
	o := e.Orig
	src, dst := addrOf(o.Src, o.Family), addrOf(o.Dst, o.Family)
	ce := control.Entry{Proto: control.Proto(o.Proto), Worker: worker, Timeout: uint32(e.Timeout / time.Second)}
	if o.Proto == packet.ProtoTCP {
		ce.State = e.TCPState.String()
	}
	switch o.Proto {
	case packet.ProtoICMP, packet.ProtoICMPv6:
		ce.Original = control.Tuple{Src: netip.AddrPortFrom(src, 0), Dst: netip.AddrPortFrom(dst, 0), ID: o.SrcPort}
		ce.Reply = control.Tuple{Src: netip.AddrPortFrom(dst, 0), Dst: netip.AddrPortFrom(src, 0), ID: o.SrcPort}
		if o.Proto == packet.ProtoICMP {
			ce.Original.Type, ce.Reply.Type = 8, 0
		} else {
			ce.Original.Type, ce.Reply.Type = 128, 129
		}
	default:
		ce.Original = control.Tuple{Src: netip.AddrPortFrom(src, o.SrcPort), Dst: netip.AddrPortFrom(dst, o.DstPort)}
		ce.Reply = control.Tuple{Src: netip.AddrPortFrom(dst, o.DstPort), Dst: netip.AddrPortFrom(src, o.SrcPort)}
	}
	if e.Assured {
		ce.Flags |= control.FlagAssured
	}
	if e.Unreplied {
		ce.Flags |= control.FlagUnreplied
	}
	if e.Expected {
		ce.Flags |= control.FlagExpected
	}
	return ce
}

func addrOf(b [16]byte, fam packet.Family) netip.Addr {
	if fam == packet.FamilyIPv4 {
		return netip.AddrFrom4([4]byte(b[:4]))
	}
	return netip.AddrFrom16(b)
}

func refusalName(i int) string { return alg.Refusal(i).String() }

// policyVerdict is the default policy's verdict for listings.
func policyVerdict(rs *rules.Ruleset) string { return rs.Config().Policy.Forward.String() }
