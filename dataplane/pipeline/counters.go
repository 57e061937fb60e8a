package pipeline

import (
	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/flowtable/ctstate"
)

// Verdict is what the pipeline did with a packet.
type Verdict uint8

// Verdicts, in replay output and metrics labels.
const (
	VerdictAccept Verdict = iota
	VerdictDrop
	VerdictReject
	// VerdictHold is a fragment held for reassembly: the frame that
	// completes its datagram carries the datagram's verdict for it.
	VerdictHold
	numVerdicts
)

// NumVerdicts is the number of verdicts, for counter arrays.
const NumVerdicts = int(numVerdicts)

// String returns "accept", "drop", "reject" or "hold".
func (v Verdict) String() string {
	switch v {
	case VerdictAccept:
		return "accept"
	case VerdictDrop:
		return "drop"
	case VerdictReject:
		return "reject"
	case VerdictHold:
		return "hold"
	}
	return "unknown"
}

// MaxPorts is how many receiving ports the per-port counters tell apart.
const MaxPorts = 16

// BurstBuckets are the upper bounds of the burst-size histogram buckets.
var BurstBuckets = [...]int{0, 1, 2, 4, 8, 16, 32, 64, 128, 256}

// Counters are one worker's plain counters, written only by that worker.
// Readers never see the live copy: the worker publishes a snapshot (see
// Worker.Snapshot).
type Counters struct {
	Bursts       uint64
	Packets      uint64
	Bytes        uint64
	ByVerdict    [NumVerdicts]uint64
	BytesVerdict [NumVerdicts]uint64
	// PortVerdict and PortVerdictBytes split them by receiving port (the
	// [[port]] index; ports beyond MaxPorts-1 count in the last slot).
	PortVerdict      [MaxPorts][NumVerdicts]uint64
	PortVerdictBytes [MaxPorts][NumVerdicts]uint64
	ByReason         [packet.NumReasons]uint64
	ByState          [ctstate.NumStates]uint64
	// NotTracked counts frames that never reached the tracker (non-IP,
	// malformed, fragments held for reassembly).
	NotTracked uint64
	// CacheHits counts packets whose verdict came from the flow's cache.
	CacheHits uint64
	// BurstSizes is a histogram of received burst sizes over BurstBuckets.
	BurstSizes [len(BurstBuckets) + 1]uint64
	TxDropped  uint64
	// RejectsSent counts the TCP RSTs and ICMP unreachables REJECT sent;
	// RejectsLimited those the rate limit (or no buffer) held back.
	RejectsSent, RejectsLimited uint64
	// Spread counts frames handed to the worker owning their connection;
	// SpreadDropped those its full ring could not take.
	Spread, SpreadDropped uint64
	// Logged counts packets handed to the rule log; LogDropped those the
	// full log channel could not take.
	Logged, LogDropped uint64
	// Rules holds per-rule packet and byte counters of the ruleset
	// generation RulesGeneration; index len-1 is the default policy.
	RulesGeneration uint64
	RulePackets     []uint64
	RuleBytes       []uint64
}

func (c *Counters) observeBurst(n int) {
	c.Bursts++
	i := 0
	for i < len(BurstBuckets) && n > BurstBuckets[i] {
		i++
	}
	c.BurstSizes[i]++
}

// copyTo copies c into dst, reusing dst's rule slices.
func (c *Counters) copyTo(dst *Counters) {
	rp, rb := dst.RulePackets, dst.RuleBytes
	*dst = *c
	dst.RulePackets = append(rp[:0], c.RulePackets...)
	dst.RuleBytes = append(rb[:0], c.RuleBytes...)
}
