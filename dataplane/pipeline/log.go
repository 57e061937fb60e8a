package pipeline

import (
	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/flowtable/ctstate"
)

// LogRecord is one packet a rule (or the policy) with `log = true`
// decided. It is a plain value so that sending it on a channel does not
// allocate; the control goroutine formats and writes it.
type LogRecord struct {
	Worker     int
	Generation uint64 // ruleset generation Rule indexes
	Rule       int    // index into the ruleset's rules, -1 for the policy
	InPort     uint16
	Tuple      packet.Tuple
	State      ctstate.State
	Dir        ctstate.Dir
	Verdict    Verdict
	Reason     packet.DropReason
	TCPFlags   uint8
	ICMPType   uint8
	ICMPCode   uint8
	Length     uint16
	TimeMillis uint32 // the worker's clock
}

// logPacket hands a record to the log channel without ever blocking: a
// full channel drops the record and counts it.
func (w *Worker) logPacket(now uint32, b *Binding, p *packet.Parsed, o *Outcome) {
	if w.cfg.Log == nil {
		return
	}
	r := LogRecord{Worker: w.cfg.ID, Rule: o.Rule, InPort: b.InIndex, Tuple: p.Tuple, State: o.State, Dir: o.Dir,
		Verdict: o.Verdict, Reason: o.Reason, TCPFlags: p.TCP.Flags, ICMPType: p.ICMP.Type, ICMPCode: p.ICMP.Code,
		Length: p.IPLen, TimeMillis: now}
	if o.Ruleset != nil {
		r.Generation = o.Ruleset.Generation
	}
	select {
	case w.cfg.Log <- r:
		w.counters.Logged++
	default:
		w.counters.LogDropped++
	}
}
