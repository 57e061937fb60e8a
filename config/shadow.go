package config

import (
	"fmt"
	"net/netip"
	"sort"
)

// Shadowing: a rule is reported when one earlier rule in the same list
// matches everything it matches (each of the earlier rule's fields is a
// superset of the later rule's field), so no packet can ever reach it.
// Covering by the union of several earlier rules is not detected.

// span is an inclusive interval of a field's value space; addresses are
// split by family (fam 4 or 6) and held as 128-bit values.
type span struct {
	fam    uint8
	lo, hi [2]uint64
}

func less128(a, b [2]uint64) bool { return a[0] < b[0] || a[0] == b[0] && a[1] < b[1] }

func prefixSpan(p netip.Prefix) span {
	a := p.Addr()
	if a.Is4() {
		b := a.As4()
		v := uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])
		host := uint64(1)<<(32-p.Bits()) - 1
		return span{fam: 4, lo: [2]uint64{0, v &^ host}, hi: [2]uint64{0, v | host}}
	}
	b := a.As16()
	var v [2]uint64
	for i := 0; i < 16; i++ {
		v[i/8] = v[i/8]<<8 | uint64(b[i])
	}
	lo, hi := v, v
	bits := p.Bits()
	for w := 0; w < 2; w++ {
		n := bits - 64*w // bits of the prefix in this word
		switch {
		case n >= 64:
		case n <= 0:
			lo[w], hi[w] = 0, ^uint64(0)
		default:
			host := uint64(1)<<(64-n) - 1
			lo[w] &^= host
			hi[w] |= host
		}
	}
	return span{fam: 6, lo: lo, hi: hi}
}

func rangeSpans(rs []Range) []span {
	out := make([]span, len(rs))
	for i, r := range rs {
		out[i] = span{lo: [2]uint64{0, uint64(r.Lo)}, hi: [2]uint64{0, uint64(r.Hi)}}
	}
	return merge(out)
}

func prefixSpans(ps []netip.Prefix) []span {
	out := make([]span, len(ps))
	for i, p := range ps {
		out[i] = prefixSpan(p)
	}
	return merge(out)
}

// merge sorts spans and joins overlapping or adjacent ones.
func merge(ss []span) []span {
	sort.Slice(ss, func(i, j int) bool {
		if ss[i].fam != ss[j].fam {
			return ss[i].fam < ss[j].fam
		}
		return less128(ss[i].lo, ss[j].lo)
	})
	out := ss[:0]
	for _, s := range ss {
		if n := len(out); n > 0 && out[n-1].fam == s.fam {
			last := &out[n-1]
			next := last.hi
			if next[1]++; next[1] == 0 {
				next[0]++
			}
			if !less128(next, s.lo) || last.hi == [2]uint64{^uint64(0), ^uint64(0)} {
				if less128(last.hi, s.hi) {
					last.hi = s.hi
				}
				continue
			}
		}
		out = append(out, s)
	}
	return out
}

// covered reports whether every span of inner lies within a span of outer
// (both merged). An empty outer means "any".
func covered(inner, outer []span) bool {
	if len(outer) == 0 {
		return true
	}
	if len(inner) == 0 {
		return false
	}
	for _, s := range inner {
		k := sort.Search(len(outer), func(i int) bool {
			o := outer[i]
			return o.fam > s.fam || o.fam == s.fam && !less128(o.hi, s.lo)
		})
		if k == len(outer) {
			return false
		}
		o := outer[k]
		if o.fam != s.fam || less128(s.lo, o.lo) || less128(o.hi, s.hi) {
			return false
		}
	}
	return true
}

type ruleSpans struct {
	protos              [4]uint64
	inPorts             map[uint16]bool
	src, dst, sp, dp    []span
	icmp, vlan          []span
	hasProto, hasInPort bool
}

func spansOf(m *Match) ruleSpans {
	s := ruleSpans{
		src: prefixSpans(m.Src), dst: prefixSpans(m.Dst),
		sp: rangeSpans(m.SrcPorts), dp: rangeSpans(m.DstPorts),
		icmp: rangeSpans(m.ICMP), vlan: rangeSpans(m.VLAN),
	}
	for _, p := range m.Protos {
		s.protos[p/64] |= 1 << (p % 64)
		s.hasProto = true
	}
	if len(m.InPorts) > 0 {
		s.hasInPort = true
		s.inPorts = map[uint16]bool{}
		for _, p := range m.InPorts {
			s.inPorts[p] = true
		}
	}
	return s
}

// covers reports whether rule a matches every packet rule b matches.
func covers(a, b *Match, sa, sb *ruleSpans) bool {
	if a.States != 0 && (b.States == 0 || b.States&^a.States != 0) {
		return false
	}
	if a.Direction != DirAny && a.Direction != b.Direction {
		return false
	}
	if sa.hasProto {
		if !sb.hasProto {
			return false
		}
		for i := range sa.protos {
			if sb.protos[i]&^sa.protos[i] != 0 {
				return false
			}
		}
	}
	if a.TCPFlagsMask != 0 && (b.TCPFlagsMask&a.TCPFlagsMask != a.TCPFlagsMask || b.TCPFlagsValue&a.TCPFlagsMask != a.TCPFlagsValue) {
		return false
	}
	if sa.hasInPort {
		if !sb.hasInPort {
			return false
		}
		for p := range sb.inPorts {
			if !sa.inPorts[p] {
				return false
			}
		}
	}
	return covered(sb.sp, sa.sp) && covered(sb.dp, sa.dp) &&
		covered(sb.icmp, sa.icmp) && covered(sb.vlan, sa.vlan) &&
		covered(sb.src, sa.src) && covered(sb.dst, sa.dst)
}

func (d *decoder) shadowed(section string, rules []Rule) {
	spans := make([]ruleSpans, len(rules))
	for i := range rules {
		spans[i] = spansOf(&rules[i].Match)
	}
	for j := range rules {
		for i := 0; i < j; i++ {
			if covers(&rules[i].Match, &rules[j].Match, &spans[i], &spans[j]) {
				d.errf(fmt.Sprintf("%s[%d]", section, j),
					"rule %q is shadowed by rule %q (line %d): every packet it matches, the earlier rule matches first",
					rules[j].Name, rules[i].Name, rules[i].Line)
				break
			}
		}
	}
}
