// Package metrics exposes the engine's counters to Prometheus. The data
// path keeps plain per-worker counters written only by their owner; the
// Collector here reads each worker's published snapshot through a Source
// and sums nothing in advance: every scrape builds const metrics from the
// snapshots of that moment. The package holds no registry globals: the
// daemon builds a registry, registers NewCollector(src) and serves Handler.
package metrics

import (
	"time"

	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/dataplane/port"
	"github.com/statewall/statewall/flowtable/ctstate"
)

// NumVerdicts is the number of verdicts a worker counts, in the order of
// VerdictNames (pipeline.Verdict's order: accept, drop, reject, hold).
const NumVerdicts = 4

// Indexes of Counters.ByVerdict and BytesVerdict.
const (
	VerdictAccept = 0
	VerdictDrop   = 1
	VerdictReject = 2
	VerdictHold   = 3 // a fragment held for reassembly
)

// VerdictNames are the label values of the verdict label, indexed like
// Counters.ByVerdict. They equal pipeline.Verdict.String().
var VerdictNames = [NumVerdicts]string{"accept", "drop", "reject", "hold"}

// Counters is one worker's counter snapshot as the collector reads it. Its
// fields mirror pipeline.Counters (same names and meaning) so that the
// engine's adapter is a field-by-field copy; this package does not import
// the pipeline so that it stays a leaf the CLI can link cheaply.
type Counters struct {
	Bursts       uint64
	Packets      uint64 // frames received (every received frame is counted once)
	Bytes        uint64
	ByVerdict    [NumVerdicts]uint64
	BytesVerdict [NumVerdicts]uint64
	// PortPackets and PortBytes split the verdict counts by receiving
	// port, indexed like Source.Ports(); empty when the source does not
	// count per port (the worker's totals are then reported unlabelled).
	PortPackets, PortBytes [][NumVerdicts]uint64
	ByReason               [packet.NumReasons]uint64
	ByState                [ctstate.NumStates]uint64
	NotTracked             uint64
	CacheHits              uint64
	// BurstBuckets are the upper bounds of the burst-size histogram
	// (pipeline.BurstBuckets); BurstSizes has one more slot, the overflow.
	BurstBuckets []int
	BurstSizes   []uint64
	TxDropped    uint64
	// RejectsSent and RejectsLimited count REJECT replies sent and held
	// back; HandedOver and HandOverDropped frames given to the worker
	// owning their connection and those its ring refused; Logged and
	// LogDropped rule-log records.
	RejectsSent, RejectsLimited, HandedOver, HandOverDropped, Logged, LogDropped uint64
	// RulesGeneration is the ruleset generation RulePackets and RuleBytes
	// count for; index len-1 is the default policy.
	RulesGeneration uint64
	RulePackets     []uint64
	RuleBytes       []uint64
}

// PortInfo is one port's identity and counters.
type PortInfo struct {
	Name  string
	Up    bool
	Stats port.Stats
	// XStats are the driver's extended statistics (DPDK xstats) as name and
	// value pairs; names are fixed by the driver, so the label is bounded.
	XStats []XStat
	// ChecksumOffloads names the checksums the NIC verifies on receipt
	// ("ipv4", "tcp", "udp"; none without the offload).
	ChecksumOffloads []string
}

// XStat is one extended port statistic.
type XStat struct {
	Name  string
	Value uint64
}

// FlowTableStats are one worker's connection-table figures.
type FlowTableStats struct {
	Worker      int
	Capacity    uint64 // entries the table can hold
	MemoryBytes uint64 // arena size
	Protos      []ProtoStats
	// TCPStates counts current TCP entries by TCP state name (SYN_SENT,
	// ESTABLISHED, TIME_WAIT, ...).
	TCPStates []StateCount
}

// ProtoStats are a worker's table figures for one protocol tracker.
type ProtoStats struct {
	Proto     string // "tcp", "udp", "icmp", "icmpv6", "generic"
	Entries   uint64 // current
	Inserts   uint64 // total
	Evictions uint64 // total early drops to make room
	Expiries  uint64 // total timeouts
	TableFull uint64 // total inserts refused: no room and nothing evictable
}

// StateCount is the number of entries in one TCP state.
type StateCount struct {
	State   string
	Entries uint64
}

// ExpectationStats are the shared expectation table's figures.
type ExpectationStats struct {
	Current  uint64
	Capacity uint64
	Created  uint64
	Matched  uint64
	Expired  uint64
	// Refused counts expectations not created, by reason (a small fixed
	// set such as "table_full", "per_master_limit").
	Refused []ReasonCount
}

// ReasonCount is a count labelled with a reason.
type ReasonCount struct {
	Reason string
	Count  uint64
}

// RuleInfo describes one rule of the current ruleset.
type RuleInfo struct {
	Name    string // the rule's name from the config; "" is shown as its index
	Verdict string // accept, drop, reject
	Match   string // the rule's match, as the config states it (for display)
}

// Ruleset is the current ruleset as metrics and the control API see it:
// its generation and its rules, the last one being the default policy.
type Ruleset struct {
	Generation uint64
	Rules      []RuleInfo
}

// ReloadStats count configuration reloads.
type ReloadStats struct {
	Successes   uint64
	Failures    uint64
	LastSuccess time.Time // zero: never (the initial load counts as a success)
	LastError   string    // message of the last failure, "" if none since the last success
	Generation  uint64    // generation of the ruleset in force
}

// Source is what the collector and the control API read from the engine.
// Every method may be called from any goroutine at any time and must not
// touch a worker's live state: counters come from published snapshots.
type Source interface {
	// Workers returns the number of workers.
	Workers() int
	// WorkerCPU returns the CPU worker i is pinned to, or -1.
	WorkerCPU(i int) int
	// WorkerCounters copies worker i's published counters into dst,
	// reusing dst's slices.
	WorkerCounters(i int, dst *Counters)
	// Ports returns every port's counters.
	Ports() []PortInfo
	// FlowTables returns each worker's table figures.
	FlowTables() []FlowTableStats
	// Expectations returns the expectation table's figures.
	Expectations() ExpectationStats
	// Rules returns the ruleset in force.
	Rules() Ruleset
	// Reload returns the reload counters.
	Reload() ReloadStats
}
