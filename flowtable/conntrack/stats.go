package conntrack

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/flowtable"
)

// Protocol classes the counters are kept by.
const (
	protoTCP = iota
	protoUDP
	protoICMP
	protoICMPv6
	protoGeneric
	numProtos
)

func protoIndex(fam packet.Family, proto uint8) int {
	switch proto {
	case packet.ProtoTCP:
		return protoTCP
	case packet.ProtoUDP:
		return protoUDP
	case packet.ProtoICMP:
		if fam == packet.FamilyIPv4 {
			return protoICMP
		}
	case packet.ProtoICMPv6:
		if fam == packet.FamilyIPv6 {
			return protoICMPv6
		}
	}
	return protoGeneric
}

// ProtoStats are one protocol's counters since New.
type ProtoStats struct {
	Entries    uint64 // live entries now (counted by Stats or CountEntries)
	Inserts    uint64 // entries created
	Deletes    uint64 // entries removed by the tracker (RST before reply, re-open, Discard, Flush)
	Expiries   uint64 // entries removed because their timeout passed
	EarlyDrops uint64 // inserts that evicted another entry (counted by the inserting protocol)
	TableFull  uint64 // new connections refused: table full, nothing evictable
}

// Stats are the tracker's counters.
type Stats struct {
	TCP, UDP, ICMP, ICMPv6, Generic ProtoStats
	// TCPStates counts live TCP entries per TCP state (at Stats time).
	TCPStates [NumTCPStates]uint64
	// Invalid counts INVALID packets by reason.
	Invalid [packet.NumReasons]uint64
	// HelperPoolFull counts connections that got no helper: pool full.
	HelperPoolFull uint64
	// Capacity and live entries of the IPv4 and IPv6 tables.
	Capacity4, Capacity6, Len4, Len6 int
	MaxConns                         int // connections held at most (Tracker.MaxConns)
}

type counters struct {
	proto          [numProtos]ProtoStats
	invalid        [packet.NumReasons]uint64
	helperPoolFull uint64
}

// Stats returns the counters; entry and TCP state counts walk the tables
// (control path only).
func (t *Tracker) Stats() Stats {
	s := t.Counters()
	for c := t.CountEntries(0, -1, &s); c != 0; c = t.CountEntries(c, -1, &s) {
	}
	return s
}

// Counters returns the tracker's counters without walking the tables:
// Entries and TCPStates are left zero. CountEntries fills them in, a
// bounded chunk at a time, so a large table is never walked in one go.
func (t *Tracker) Counters() Stats {
	s := Stats{Invalid: t.stats.invalid, HelperPoolFull: t.stats.helperPoolFull}
	ps := t.stats.proto
	for i := range ps {
		ps[i].Entries = 0
	}
	s.TCP, s.UDP, s.ICMP, s.ICMPv6, s.Generic = ps[protoTCP], ps[protoUDP], ps[protoICMP], ps[protoICMPv6], ps[protoGeneric]
	s.Capacity4, s.Capacity6 = t.Capacity()
	s.MaxConns = t.MaxConns()
	s.Len4, s.Len6 = t.Len()
	return s
}

// CountEntries adds the protocol and TCP-state counts of at most limit
// connections (all of them when limit is negative), starting at cursor, to
// s, and returns the cursor to continue from (0 when done), as RangeFrom.
func (t *Tracker) CountEntries(cursor uint64, limit int, s *Stats) uint64 {
	if limit < 0 {
		limit = int(^uint(0) >> 1)
	}
	ps := [numProtos]*ProtoStats{protoTCP: &s.TCP, protoUDP: &s.UDP, protoICMP: &s.ICMP, protoICMPv6: &s.ICMPv6, protoGeneric: &s.Generic}
	count := func(fam packet.Family, proto uint8, c *Conn) {
		ps[protoIndex(fam, proto)].Entries++
		if proto == packet.ProtoTCP {
			s.TCPStates[c.tcpState()]++
		}
	}
	if cursor&cursorIPv6 == 0 {
		next := t.t4.tb.RangeFrom(flowtable.Ref(cursor), limit, func(_ flowtable.Ref, e *Entry4) {
			count(packet.FamilyIPv4, e.Key.Proto(), &e.Value)
			limit--
		})
		if next != 0 {
			return uint64(next)
		}
		cursor = cursorIPv6
	}
	next := t.t6.tb.RangeFrom(flowtable.Ref(cursor&^cursorIPv6), limit, func(_ flowtable.Ref, e *Entry6) {
		count(packet.FamilyIPv6, e.Key.Proto(), &e.Value)
	})
	if next != 0 {
		return cursorIPv6 | uint64(next)
	}
	return 0
}

// EntryInfo describes one connection, as `conntrack -L` lists it.
type EntryInfo struct {
	Orig      packet.Tuple  // the original direction's tuple
	Zone      uint16        // the conntrack zone (outer VLAN id with VLANZones)
	TCPState  TCPState      // TCP only
	Timeout   time.Duration // time left before expiry, from the tracker's last clock
	Assured   bool
	Unreplied bool   // no reply seen yet
	Expected  bool   // created from an expectation
	Helper    string // the attached helper's name, or ""
}

// String formats the entry like a conntrack -L line.
func (e EntryInfo) String() string {
	var b strings.Builder
	name := "unknown"
	switch e.Orig.Proto {
	case packet.ProtoTCP:
		name = "tcp"
	case packet.ProtoUDP:
		name = "udp"
	case packet.ProtoICMP:
		name = "icmp"
	case packet.ProtoICMPv6:
		name = "icmpv6"
	}
	fam := "ipv4"
	if e.Orig.Family == packet.FamilyIPv6 {
		fam = "ipv6"
	}
	fmt.Fprintf(&b, "%s %s %d %d ", fam, name, e.Orig.Proto, int64(e.Timeout/time.Second))
	if e.Orig.Proto == packet.ProtoTCP {
		b.WriteString(e.TCPState.String())
		b.WriteByte(' ')
	}
	src, dst := tupleAddrs(&e.Orig)
	fmt.Fprintf(&b, "src=%s dst=%s sport=%d dport=%d", src, dst, e.Orig.SrcPort, e.Orig.DstPort)
	if e.Unreplied {
		b.WriteString(" [UNREPLIED]")
	}
	if e.Assured {
		b.WriteString(" [ASSURED]")
	}
	if e.Expected {
		b.WriteString(" [EXPECTED]")
	}
	if e.Zone != 0 {
		fmt.Fprintf(&b, " zone=%d", e.Zone)
	}
	if e.Helper != "" {
		fmt.Fprintf(&b, " helper=%s", e.Helper)
	}
	return b.String()
}

func tupleAddrs(t *packet.Tuple) (netip.Addr, netip.Addr) {
	if t.Family == packet.FamilyIPv4 {
		return netip.AddrFrom4([4]byte(t.Src[:4])), netip.AddrFrom4([4]byte(t.Dst[:4]))
	}
	return netip.AddrFrom16(t.Src), netip.AddrFrom16(t.Dst)
}

func (t *Tracker) info(fam packet.Family, r flowtable.Ref, orig packet.Tuple, zone uint16, expires uint32, flags uint8, c *Conn) EntryInfo {
	ei := EntryInfo{
		Orig:      orig,
		Zone:      zone,
		Assured:   flags&flowtable.FlagAssured != 0,
		Unreplied: flags&FlagSeenReply == 0,
		Expected:  flags&FlagExpected != 0,
	}
	if left := int32(expires - t.now); left > 0 {
		ei.Timeout = time.Duration(left) * time.Millisecond
	}
	if orig.Proto == packet.ProtoTCP {
		ei.TCPState = c.tcpState()
	}
	if flags&FlagHelper != 0 {
		if s := t.hp.lookup(fam, r); s != nil {
			ei.Helper = t.helpers[s.helper].Helper.Name()
		}
	}
	return ei
}

// Range calls fn for every connection (IPv4 first) until fn returns false.
// Control path: it must not run concurrently with Track.
func (t *Tracker) Range(fn func(e EntryInfo) bool) {
	more := true
	t.t4.tb.Range(func(r flowtable.Ref, e *Entry4) bool {
		more = fn(t.info(packet.FamilyIPv4, r, e.Key.Tuple(e.Flags&flowtable.FlagOrigIsB != 0), e.Key.Zone(), e.Expires, e.Flags, &e.Value))
		return more
	})
	if !more {
		return
	}
	t.t6.tb.Range(func(r flowtable.Ref, e *Entry6) bool {
		return fn(t.info(packet.FamilyIPv6, r, e.Key.Tuple(e.Flags&flowtable.FlagOrigIsB != 0), e.Key.Zone(), e.Expires, e.Flags, &e.Value))
	})
}

// Flush deletes the connections filter selects (all of them when filter
// is nil) and returns how many it deleted, like `conntrack -F`/`-D`.
func (t *Tracker) Flush(filter func(e EntryInfo) bool) int {
	n := 0
	t.t4.tb.Range(func(r flowtable.Ref, e *Entry4) bool {
		if filter == nil || filter(t.info(packet.FamilyIPv4, r, e.Key.Tuple(e.Flags&flowtable.FlagOrigIsB != 0), e.Key.Zone(), e.Expires, e.Flags, &e.Value)) {
			t.t4.remove(t, r, e.Key.Proto())
			n++
		}
		return true
	})
	t.t6.tb.Range(func(r flowtable.Ref, e *Entry6) bool {
		if filter == nil || filter(t.info(packet.FamilyIPv6, r, e.Key.Tuple(e.Flags&flowtable.FlagOrigIsB != 0), e.Key.Zone(), e.Expires, e.Flags, &e.Value)) {
			t.t6.remove(t, r, e.Key.Proto())
			n++
		}
		return true
	})
	return n
}
