package control

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// Proto is an IP protocol number; its text form is the name conntrack
// prints ("tcp", "udp", "icmp", "icmpv6") or the number for others.
type Proto uint8

// Protocols with names.
const (
	ProtoICMP   Proto = 1
	ProtoTCP    Proto = 6
	ProtoUDP    Proto = 17
	ProtoICMPv6 Proto = 58
)

// String returns the protocol's name, or its number when it has none
// ("unknown" as conntrack says is not used: a number is more useful).
func (p Proto) String() string {
	switch p {
	case ProtoICMP:
		return "icmp"
	case ProtoTCP:
		return "tcp"
	case ProtoUDP:
		return "udp"
	case ProtoICMPv6:
		return "icmpv6"
	}
	return strconv.Itoa(int(p))
}

// ParseProto reads a protocol name or number.
func ParseProto(s string) (Proto, error) {
	switch strings.ToLower(s) {
	case "icmp":
		return ProtoICMP, nil
	case "tcp":
		return ProtoTCP, nil
	case "udp":
		return ProtoUDP, nil
	case "icmpv6", "ipv6-icmp":
		return ProtoICMPv6, nil
	}
	n, err := strconv.ParseUint(s, 10, 8)
	if err != nil {
		return 0, fmt.Errorf("unknown protocol %q (tcp, udp, icmp, icmpv6 or a number 0-255)", s)
	}
	return Proto(n), nil
}

// MarshalText returns the protocol's String.
func (p Proto) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText parses a name or number.
func (p *Proto) UnmarshalText(b []byte) error {
	v, err := ParseProto(string(b))
	*p = v
	return err
}

// Flags are a connection's status bits, as conntrack shows them.
type Flags uint8

// Connection flags.
const (
	FlagAssured   Flags = 1 << iota // seen in both directions long enough: protected from early drop
	FlagUnreplied                   // no packet seen in the reply direction yet
	FlagExpected                    // created by an expectation (an ALG's RELATED data connection)
)

var flagNames = [...]string{"ASSURED", "UNREPLIED", "EXPECTED"}

// Names returns the set flags' names.
func (f Flags) Names() []string {
	out := make([]string, 0, len(flagNames))
	for i, n := range flagNames {
		if f&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

// String returns the set flags' names joined by "|".
func (f Flags) String() string { return strings.Join(f.Names(), "|") }

// MarshalJSON encodes the flags as a list of names.
func (f Flags) MarshalJSON() ([]byte, error) { return json.Marshal(f.Names()) }

// UnmarshalJSON decodes a list of names.
func (f *Flags) UnmarshalJSON(b []byte) error {
	var names []string
	if err := json.Unmarshal(b, &names); err != nil {
		return err
	}
	*f = 0
	for _, n := range names {
		found := false
		for i, fn := range flagNames {
			if n == fn {
				*f |= 1 << i
				found = true
			}
		}
		if !found {
			return fmt.Errorf("unknown connection flag %q", n)
		}
	}
	return nil
}

// Tuple is one direction of a connection. For ICMP the ports are zero and
// Type, Code and ID say what conntrack keys on.
type Tuple struct {
	Src netip.AddrPort `json:"src"`
	Dst netip.AddrPort `json:"dst"`
	// ICMP and ICMPv6 only.
	Type uint8  `json:"type,omitempty"`
	Code uint8  `json:"code,omitempty"`
	ID   uint16 `json:"id,omitempty"`
	// Packets and Bytes seen in this direction, when the engine counts
	// them (Entry.Acct).
	Packets uint64 `json:"packets,omitempty"`
	Bytes   uint64 `json:"bytes,omitempty"`
}

// Entry is one tracked connection as the control API lists it: a plain
// value, copied out of a worker's table.
type Entry struct {
	Proto    Proto `json:"proto"`
	Original Tuple `json:"original"`
	Reply    Tuple `json:"reply"`
	// State is the TCP state name (SYN_SENT, ESTABLISHED, ...); "" for
	// protocols without states.
	State string `json:"state,omitempty"`
	// Timeout is the number of seconds left before the entry expires.
	Timeout uint32 `json:"timeout"`
	Flags   Flags  `json:"flags"`
	Mark    uint32 `json:"mark"`
	// Acct says that the tuples' Packets and Bytes are counted.
	Acct bool `json:"acct,omitempty"`
	// Worker is the worker whose table holds the entry.
	Worker int `json:"worker"`
}

// TCPStates are the TCP state names a filter accepts, as Linux names them.
var TCPStates = []string{"NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT", "CLOSE_WAIT",
	"LAST_ACK", "TIME_WAIT", "CLOSE", "SYN_SENT2"}

// Filter selects entries. Zero fields match anything; addresses and ports
// are those of the original direction, as conntrack's --src, --dst,
// --sport and --dport are.
type Filter struct {
	Proto   Proto        `json:"proto,omitempty"`
	State   string       `json:"state,omitempty"`
	Src     netip.Prefix `json:"src,omitzero"`
	Dst     netip.Prefix `json:"dst,omitzero"`
	SrcPort uint16       `json:"sport,omitempty"`
	DstPort uint16       `json:"dport,omitempty"`
}

// IsZero reports whether the filter matches every entry.
func (f Filter) IsZero() bool { return f == Filter{} }

// Match reports whether e passes the filter.
func (f *Filter) Match(e *Entry) bool {
	if f.Proto != 0 && e.Proto != f.Proto {
		return false
	}
	if f.State != "" && e.State != f.State {
		return false
	}
	if f.Src.IsValid() && !f.Src.Contains(e.Original.Src.Addr()) {
		return false
	}
	if f.Dst.IsValid() && !f.Dst.Contains(e.Original.Dst.Addr()) {
		return false
	}
	if f.SrcPort != 0 && e.Original.Src.Port() != f.SrcPort {
		return false
	}
	if f.DstPort != 0 && e.Original.Dst.Port() != f.DstPort {
		return false
	}
	return true
}

// ParsePrefix reads an address ("198.18.0.1", a single host) or a prefix
// ("198.18.0.0/24").
func ParsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("bad address or prefix %q", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("bad address or prefix %q", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// ParseState reads a TCP state name (case-insensitive).
func ParseState(s string) (string, error) {
	u := strings.ToUpper(s)
	for _, n := range TCPStates {
		if u == n {
			return n, nil
		}
	}
	return "", fmt.Errorf("unknown TCP state %q (one of %s)", s, strings.Join(TCPStates, ", "))
}

// Values encodes the filter as URL query values.
func (f Filter) Values() url.Values {
	v := url.Values{}
	if f.Proto != 0 {
		v.Set("proto", f.Proto.String())
	}
	if f.State != "" {
		v.Set("state", f.State)
	}
	if f.Src.IsValid() {
		v.Set("src", f.Src.String())
	}
	if f.Dst.IsValid() {
		v.Set("dst", f.Dst.String())
	}
	if f.SrcPort != 0 {
		v.Set("sport", strconv.Itoa(int(f.SrcPort)))
	}
	if f.DstPort != 0 {
		v.Set("dport", strconv.Itoa(int(f.DstPort)))
	}
	return v
}

// FilterFromValues decodes a filter from URL query values, rejecting
// unknown keys and bad values.
func FilterFromValues(v url.Values) (Filter, error) {
	var f Filter
	for key, vals := range v {
		if len(vals) != 1 {
			return f, fmt.Errorf("filter %s given %d times", key, len(vals))
		}
		s := vals[0]
		var err error
		switch key {
		case "proto":
			f.Proto, err = ParseProto(s)
		case "state":
			f.State, err = ParseState(s)
		case "src":
			f.Src, err = ParsePrefix(s)
		case "dst":
			f.Dst, err = ParsePrefix(s)
		case "sport":
			f.SrcPort, err = ParsePort(s)
		case "dport":
			f.DstPort, err = ParsePort(s)
		default:
			err = fmt.Errorf("unknown filter %q", key)
		}
		if err != nil {
			return Filter{}, err
		}
	}
	return f, nil
}

// ParsePort reads a port number 1-65535.
func ParsePort(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("bad port %q (1-65535)", s)
	}
	return uint16(n), nil
}

// AppendText appends e in the layout of `conntrack -L`, without a newline:
//
//	tcp      6 431999 ESTABLISHED src=198.18.0.1 dst=198.18.0.2 sport=40000 dport=80 src=198.18.0.2 dst=198.18.0.1 sport=80 dport=40000 [ASSURED] mark=0 use=1
func (e *Entry) AppendText(b []byte) []byte {
	name := e.Proto.String()
	b = append(b, name...)
	for i := len(name); i < 8; i++ {
		b = append(b, ' ')
	}
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(e.Proto), 10)
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(e.Timeout), 10)
	b = append(b, ' ')
	if e.State != "" {
		b = append(b, e.State...)
		b = append(b, ' ')
	}
	b = e.appendTuple(b, &e.Original)
	if e.Flags&FlagUnreplied != 0 {
		b = append(b, "[UNREPLIED] "...)
	}
	b = e.appendTuple(b, &e.Reply)
	if e.Flags&FlagAssured != 0 {
		b = append(b, "[ASSURED] "...)
	}
	if e.Flags&FlagExpected != 0 {
		b = append(b, "[EXPECTED] "...)
	}
	b = append(b, "mark="...)
	b = strconv.AppendUint(b, uint64(e.Mark), 10)
	b = append(b, " use=1"...)
	return b
}

func (e *Entry) appendTuple(b []byte, t *Tuple) []byte {
	b = append(b, "src="...)
	b = t.Src.Addr().AppendTo(b)
	b = append(b, " dst="...)
	b = t.Dst.Addr().AppendTo(b)
	b = append(b, ' ')
	switch e.Proto {
	case ProtoICMP, ProtoICMPv6:
		b = append(b, "type="...)
		b = strconv.AppendUint(b, uint64(t.Type), 10)
		b = append(b, " code="...)
		b = strconv.AppendUint(b, uint64(t.Code), 10)
		b = append(b, " id="...)
		b = strconv.AppendUint(b, uint64(t.ID), 10)
		b = append(b, ' ')
	case ProtoTCP, ProtoUDP, 33, 132, 136: // and DCCP, SCTP, UDP-Lite: ported protocols
		b = append(b, "sport="...)
		b = strconv.AppendUint(b, uint64(t.Src.Port()), 10)
		b = append(b, " dport="...)
		b = strconv.AppendUint(b, uint64(t.Dst.Port()), 10)
		b = append(b, ' ')
	}
	if e.Acct {
		b = append(b, "packets="...)
		b = strconv.AppendUint(b, t.Packets, 10)
		b = append(b, " bytes="...)
		b = strconv.AppendUint(b, t.Bytes, 10)
		b = append(b, ' ')
	}
	return b
}
