package conntrack

import (
	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/flowtable"
)

// cursorIPv6 marks a RangeFrom cursor that points into the IPv6 table.
const cursorIPv6 = 1 << 32

// RangeFrom describes at most limit connections to fn, starting at cursor
// (0: the beginning), and returns the cursor to continue from, 0 once
// every connection was visited. The control API lists a whole table this
// way, one bounded chunk per call between bursts. Owner goroutine only.
func (t *Tracker) RangeFrom(cursor uint64, limit int, fn func(e EntryInfo)) uint64 {
	if cursor&cursorIPv6 == 0 {
		next := t.t4.tb.RangeFrom(flowtable.Ref(cursor), limit, func(r flowtable.Ref, e *Entry4) {
			fn(t.info(packet.FamilyIPv4, r, e.Key.Tuple(e.Flags&flowtable.FlagOrigIsB != 0), e.Key.Zone(), e.Expires, e.Flags, &e.Value))
			limit--
		})
		if next != 0 {
			return uint64(next)
		}
		cursor = cursorIPv6
	}
	next := t.t6.tb.RangeFrom(flowtable.Ref(cursor&^cursorIPv6), limit, func(r flowtable.Ref, e *Entry6) {
		fn(t.info(packet.FamilyIPv6, r, e.Key.Tuple(e.Flags&flowtable.FlagOrigIsB != 0), e.Key.Zone(), e.Expires, e.Flags, &e.Value))
	})
	if next != 0 {
		return cursorIPv6 | uint64(next)
	}
	return 0
}
