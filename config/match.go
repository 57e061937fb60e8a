package config

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/statewall/statewall/flowtable/ctstate"
)

var protoNames = map[string]uint8{
	"icmp": 1, "tcp": 6, "udp": 17, "gre": 47, "esp": 50, "ah": 51, "icmpv6": 58, "sctp": 132,
}

func protoName(p uint8) string {
	for n, v := range protoNames {
		if v == p {
			return n
		}
	}
	return strconv.Itoa(int(p))
}

func stateName(s int) string { return ctstate.State(s).String() }

var icmpTypes = map[string]uint8{
	"echo-reply": 0, "destination-unreachable": 3, "source-quench": 4, "redirect": 5,
	"echo-request": 8, "router-advertisement": 9, "router-solicitation": 10,
	"time-exceeded": 11, "parameter-problem": 12, "timestamp-request": 13, "timestamp-reply": 14,
}

var icmpv6Types = map[string]uint8{
	"destination-unreachable": 1, "packet-too-big": 2, "time-exceeded": 3, "parameter-problem": 4,
	"echo-request": 128, "echo-reply": 129, "nd-router-solicit": 133, "nd-router-advert": 134,
	"nd-neighbor-solicit": 135, "nd-neighbor-advert": 136, "nd-redirect": 137,
}

var flagNames = []struct {
	name string
	bit  uint8
}{{"fin", 0x01}, {"syn", 0x02}, {"rst", 0x04}, {"psh", 0x08}, {"ack", 0x10}, {"urg", 0x20}, {"ece", 0x40}, {"cwr", 0x80}}

func flagsString(mask, value uint8) string {
	var ss []string
	for _, f := range flagNames {
		if mask&f.bit == 0 {
			continue
		}
		if value&f.bit == 0 {
			ss = append(ss, "!"+f.name)
		} else {
			ss = append(ss, f.name)
		}
	}
	return strings.Join(ss, ",")
}

func (d *decoder) match(cfg *Config, key string, r *rawRule) Match {
	var m Match
	for _, s := range d.strList(key+".ct_state", r.CTState) {
		for _, part := range strings.Split(s, ",") {
			part = strings.TrimSpace(part)
			st, ok := ctstate.ParseState(strings.ToUpper(part))
			if !ok {
				d.errf(key+".ct_state", "unknown state %q (NEW, ESTABLISHED, RELATED, INVALID, UNTRACKED)", part)
				continue
			}
			m.States = m.States.With(st)
		}
	}
	if r.CTDirection != nil {
		switch d.oneOf(key+".ct_direction", r.CTDirection, "", "original", "reply") {
		case "original":
			m.Direction = DirOriginal
		case "reply":
			m.Direction = DirReply
		}
	}
	m.Protos = d.protos(key+".proto", r.Proto)
	m.Src = d.prefixes(cfg, key+".src", r.Src, true)
	m.Dst = d.prefixes(cfg, key+".dst", r.Dst, true)
	m.SrcPorts = d.portRanges(cfg, key+".sport", r.SPort, true)
	m.DstPorts = d.portRanges(cfg, key+".dport", r.DPort, true)
	for _, f := range []struct {
		name string
		v    any
	}{{"sport", r.SPort}, {"dport", r.DPort}} {
		if f.v == nil {
			continue
		}
		ok := len(m.Protos) > 0
		for _, p := range m.Protos {
			ok = ok && (p == ProtoTCP || p == ProtoUDP)
		}
		if !ok {
			d.errf(key+"."+f.name, "a port match needs proto \"tcp\" or \"udp\"")
		}
	}
	m.InPorts = d.inPorts(cfg, key, r)
	m.ICMP = d.icmp(key, r, m.Protos)
	if r.TCPFlags != nil {
		m.TCPFlagsMask, m.TCPFlagsValue = d.tcpFlags(key+".tcp_flags", r.TCPFlags)
		if len(m.Protos) != 1 || m.Protos[0] != ProtoTCP {
			d.errf(key+".tcp_flags", "a tcp_flags match needs proto \"tcp\"")
		}
	}
	m.VLAN = d.vlans(key+".vlan", r.VLAN)
	return m
}

// Protocol numbers the validation refers to.
const (
	ProtoICMP   = 1
	ProtoTCP    = 6
	ProtoUDP    = 17
	ProtoICMPv6 = 58
)

func (d *decoder) protos(key string, v any) []uint8 {
	if v == nil {
		return nil
	}
	var out []uint8
	seen := map[uint8]bool{}
	items := list(v)
	if len(items) == 0 {
		d.errf(key, "empty list")
	}
	for i, e := range items {
		k := elemKey(key, v, i)
		var p uint8
		switch x := e.(type) {
		case int64:
			if x < 0 || x > 255 {
				d.errf(k, "protocol %d out of range [0, 255]", x)
				continue
			}
			p = uint8(x)
		case string:
			n, ok := protoNames[strings.ToLower(x)]
			if !ok {
				d.errf(k, "unknown protocol %q", x)
				continue
			}
			p = n
		default:
			d.errf(k, "expected a protocol name or number, got %s", typeName(e))
			continue
		}
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// prefixes parses a list of prefixes, bare addresses and (when refs) @set
// references.
func (d *decoder) prefixes(cfg *Config, key string, v any, refs bool) []netip.Prefix {
	if v == nil {
		return nil
	}
	var out []netip.Prefix
	items := list(v)
	if len(items) == 0 {
		d.errf(key, "empty list")
	}
	for i, e := range items {
		k := elemKey(key, v, i)
		s, ok := e.(string)
		if !ok {
			d.errf(k, "expected an address or prefix string, got %s", typeName(e))
			continue
		}
		if name, ok := strings.CutPrefix(s, "@"); ok && refs {
			set, ok := cfg.AddrSets[name]
			switch {
			case ok:
				out = append(out, set.Prefixes...)
			case cfg.PortSets[name].Ranges != nil:
				d.errf(k, "set %q holds ports, not addresses", s)
			default:
				d.errf(k, "unknown set %q", s)
			}
			continue
		}
		if strings.Contains(s, "/") {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				d.errf(k, "invalid prefix %q", s)
				continue
			}
			if p.Masked() != p {
				d.errf(k, "prefix %q has host bits set (did you mean %q?)", s, p.Masked().String())
				continue
			}
			out = append(out, p)
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			d.errf(k, "invalid address %q", s)
			continue
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out
}

func (d *decoder) portRanges(cfg *Config, key string, v any, refs bool) []Range {
	var sets func(k, x string, out *[]Range) bool
	if refs {
		sets = func(k, x string, out *[]Range) bool {
			name, ok := strings.CutPrefix(x, "@")
			if !ok {
				return false
			}
			set, ok := cfg.PortSets[name]
			switch {
			case ok:
				*out = append(*out, set.Ranges...)
			case cfg.AddrSets[name].Prefixes != nil:
				d.errf(k, "set %q holds addresses, not ports", x)
			default:
				d.errf(k, "unknown set %q", x)
			}
			return true
		}
	}
	return d.numberRanges(key, v, 65535, "port", "port", "a port, range or @set", sets)
}

// numberRanges decodes a list of numbers up to max and "lo-hi" ranges of
// them; errors name a number number and a range rangeNoun, and a wrong
// type says what was expected. word, when not nil, decodes the strings it
// knows (a set, "untagged") into out and reports whether it did.
func (d *decoder) numberRanges(key string, v any, max int, number, rangeNoun, expected string, word func(k, x string, out *[]Range) bool) []Range {
	if v == nil {
		return nil
	}
	var out []Range
	items := list(v)
	if len(items) == 0 {
		d.errf(key, "empty list")
	}
	for i, e := range items {
		k := elemKey(key, v, i)
		switch x := e.(type) {
		case int64:
			if x < 0 || x > int64(max) {
				d.errf(k, "%s %d out of range [0, %d]", number, x, max)
				continue
			}
			out = append(out, Range{uint16(x), uint16(x)})
		case string:
			if word != nil && word(k, x, &out) {
				continue
			}
			r, err := parseRange(x, max)
			if err != "" {
				d.errf(k, "%s", strings.ReplaceAll(err, "value", rangeNoun))
				continue
			}
			out = append(out, r)
		default:
			d.errf(k, "expected %s, got %s", expected, typeName(e))
		}
	}
	return out
}

// parseRange parses "n" or "lo-hi" with values up to max; it returns an
// error message rather than an error so callers can phrase it.
func parseRange(s string, max int) (Range, string) {
	lo, hi, isRange := strings.Cut(s, "-")
	a, err1 := strconv.Atoi(strings.TrimSpace(lo))
	b := a
	var err2 error
	if isRange {
		b, err2 = strconv.Atoi(strings.TrimSpace(hi))
	}
	switch {
	case err1 != nil || err2 != nil:
		return Range{}, fmt.Sprintf("invalid value range %q", s)
	case a < 0 || b < 0 || a > max || b > max:
		return Range{}, fmt.Sprintf("value range %q out of [0, %d]", s, max)
	case b < a:
		return Range{}, fmt.Sprintf("empty value range %q (%d < %d)", s, b, a)
	}
	return Range{uint16(a), uint16(b)}, ""
}

func (d *decoder) inPorts(cfg *Config, key string, r *rawRule) []uint16 {
	if r.InPort == nil && r.OutPort == nil && r.InRole == nil && r.OutRole == nil {
		return nil
	}
	index := map[string]int{}
	for i, p := range cfg.Ports {
		index[p.Name] = i
	}
	names := func(field string, v any, isRole bool) map[string]bool {
		if v == nil {
			return nil
		}
		set := map[string]bool{}
		for _, n := range d.strList(key+"."+field, v) {
			if isRole && !cfg.hasRole(n) {
				d.errf(key+"."+field, "no port has role %q", n)
			} else if _, ok := index[n]; !isRole && !ok {
				d.errf(key+"."+field, "unknown port %q", n)
			}
			set[n] = true
		}
		return set
	}
	inPort := names("in_port", r.InPort, false)
	inRole := names("in_role", r.InRole, true)
	outPort := names("out_port", r.OutPort, false)
	outRole := names("out_role", r.OutRole, true)
	out := []uint16{}
	for i, p := range cfg.Ports {
		if inPort != nil && !inPort[p.Name] || inRole != nil && !inRole[p.Role] {
			continue
		}
		peer, hasPeer := index[p.Peer]
		if outPort != nil && (!hasPeer || !outPort[p.Peer]) {
			continue
		}
		if outRole != nil && (!hasPeer || !outRole[cfg.Ports[peer].Role]) {
			continue
		}
		out = append(out, uint16(i))
	}
	if len(out) == 0 && len(d.errs) == 0 {
		first := "in_port"
		switch {
		case r.InPort != nil:
		case r.InRole != nil:
			first = "in_role"
		case r.OutPort != nil:
			first = "out_port"
		default:
			first = "out_role"
		}
		d.errf(key+"."+first, "in_port, in_role, out_port and out_role together match no port")
	}
	return out
}

func (d *decoder) icmp(key string, r *rawRule, protos []uint8) []Range {
	if r.ICMPType == nil {
		if r.ICMPCode != nil {
			d.errf(key+".icmp_code", "icmp_code needs icmp_type")
		}
		return nil
	}
	if len(protos) != 1 || (protos[0] != ProtoICMP && protos[0] != ProtoICMPv6) {
		d.errf(key+".icmp_type", "an icmp_type match needs proto \"icmp\" or \"icmpv6\" (one of them)")
		return nil
	}
	names := icmpTypes
	if protos[0] == ProtoICMPv6 {
		names = icmpv6Types
	}
	var codes []uint8
	for i, e := range list(r.ICMPCode) {
		if c := d.integer(elemKey(key+".icmp_code", r.ICMPCode, i), e, -1, 0, 255); c >= 0 {
			codes = append(codes, uint8(c))
		}
	}
	var out []Range
	for i, e := range list(r.ICMPType) {
		k := elemKey(key+".icmp_type", r.ICMPType, i)
		var t uint8
		switch x := e.(type) {
		case int64:
			if x < 0 || x > 255 {
				d.errf(k, "ICMP type %d out of range [0, 255]", x)
				continue
			}
			t = uint8(x)
		case string:
			n, ok := names[x]
			if !ok {
				d.errf(k, "unknown %s type %q", protoName(protos[0]), x)
				continue
			}
			t = n
		default:
			d.errf(k, "expected an ICMP type name or number, got %s", typeName(e))
			continue
		}
		base := uint16(t) << 8
		if r.ICMPCode == nil {
			out = append(out, Range{base, base | 255})
		}
		for _, c := range codes {
			out = append(out, Range{base | uint16(c), base | uint16(c)})
		}
	}
	return out
}

func (d *decoder) tcpFlags(key string, v any) (mask, value uint8) {
	s := d.str(key, v, "")
	if s == "" {
		if d.ok(key) {
			d.errf(key, "empty tcp_flags")
		}
		return 0, 0
	}
	for _, part := range strings.Split(s, ",") {
		part = strings.ToLower(strings.TrimSpace(part))
		neg := strings.HasPrefix(part, "!")
		name := strings.TrimPrefix(part, "!")
		found := false
		for _, f := range flagNames {
			if f.name == name {
				found = true
				if mask&f.bit != 0 {
					d.errf(key, "flag %q given twice", name)
				}
				mask |= f.bit
				if !neg {
					value |= f.bit
				}
			}
		}
		if !found {
			d.errf(key, "unknown TCP flag %q (fin, syn, rst, psh, ack, urg, ece, cwr; \"!\" negates)", part)
		}
	}
	return mask, value
}

func (d *decoder) vlans(key string, v any) []Range {
	untagged := func(_, x string, out *[]Range) bool {
		if x != "untagged" {
			return false
		}
		*out = append(*out, Range{VLANUntagged, VLANUntagged})
		return true
	}
	return d.numberRanges(key, v, 4095, "VLAN id", "VLAN", "a VLAN id, range or \"untagged\"", untagged)
}
