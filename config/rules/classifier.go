package rules

import (
	"cmp"
	"encoding/binary"
	"math/bits"
	"net/netip"
	"slices"

	"github.com/statewall/statewall/config"
	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/flowtable/ctstate"
)

// keys are the packet fields the classifier looks up, read once per packet.
type keys struct {
	stateDir   uint32 // state (capped at numStateKeys-1) * 2 + reply
	proto      uint32
	fam        packet.Family
	src4, dst4 uint32
	src6, dst6 u128
	sport      uint32
	dport      uint32
	inPort     uint32 // capped at the number of ports (= unknown port)
	vlan       uint32 // outermost id, or config.VLANUntagged
	icmp       uint32 // type<<8 | code
	flags      uint32
}

// numStateKeys: the five states plus one row for values beyond them.
const numStateKeys = 9

func (k *keys) fill(p *packet.Parsed, st ctstate.State, dir ctstate.Dir, inPort uint16, nports int) {
	s := uint32(st)
	if s >= numStateKeys {
		s = numStateKeys - 1
	}
	k.stateDir = s * 2
	if dir == ctstate.Reply {
		k.stateDir++
	}
	t := &p.Tuple
	k.proto = uint32(t.Proto)
	k.fam = t.Family
	switch t.Family {
	case packet.FamilyIPv4:
		k.src4 = binary.BigEndian.Uint32(t.Src[:4])
		k.dst4 = binary.BigEndian.Uint32(t.Dst[:4])
	case packet.FamilyIPv6:
		k.src6 = u128{binary.BigEndian.Uint64(t.Src[:8]), binary.BigEndian.Uint64(t.Src[8:])}
		k.dst6 = u128{binary.BigEndian.Uint64(t.Dst[:8]), binary.BigEndian.Uint64(t.Dst[8:])}
	}
	k.sport = uint32(t.SrcPort)
	k.dport = uint32(t.DstPort)
	k.inPort = uint32(inPort)
	if int(inPort) > nports {
		k.inPort = uint32(nports)
	}
	k.vlan = config.VLANUntagged
	if p.VLANs > 0 {
		k.vlan = uint32(p.VLAN[0] & 0xfff)
	}
	k.icmp = uint32(p.ICMP.Type)<<8 | uint32(p.ICMP.Code)
	k.flags = uint32(p.TCP.Flags)
}

// field names one dimension of the classifier.
type field uint8

const (
	fStateDir field = iota
	fProto
	fSrc
	fDst
	fSport
	fDport
	fInPort
	fVLAN
	fICMP  // flow-variant
	fFlags // flow-variant
	numFields
)

var fieldNames = [numFields]string{"ct_state/dir", "proto", "src", "dst", "sport", "dport", "in_port", "vlan", "icmp", "tcp_flags"}

// dim is one field's lookup structure: a key maps to a row, the bitset of
// rules whose match on this field accepts the key.
type dim struct {
	f     field
	rows  []uint64 // nrows * words
	sums  []uint64 // nrows * sumWords
	table []uint32 // small fields: key -> row
	// Address fields: rows [0, n4) are IPv4 intervals, [n4, n4+n6) IPv6,
	// and row none is for packets without IP.
	starts4 []uint32
	top4    []uint32 // top4[h]: interval holding h<<16; 65537 entries
	starts6 []u128
	base6   uint32
	none    uint32
}

func (d *dim) nrows(words int) int {
	if words == 0 {
		return 0
	}
	return len(d.rows) / words
}

func (d *dim) row(k *keys) uint32 {
	switch d.f {
	case fStateDir:
		return d.table[k.stateDir]
	case fProto:
		return d.table[k.proto]
	case fSrc:
		return d.addrRow(k.fam, k.src4, k.src6)
	case fDst:
		return d.addrRow(k.fam, k.dst4, k.dst6)
	case fSport:
		return d.table[k.sport]
	case fDport:
		return d.table[k.dport]
	case fInPort:
		return d.table[k.inPort]
	case fVLAN:
		return d.table[k.vlan]
	case fICMP:
		return d.table[k.icmp]
	default:
		return d.table[k.flags]
	}
}

func (d *dim) addrRow(fam packet.Family, a4 uint32, a6 u128) uint32 {
	switch fam {
	case packet.FamilyIPv4:
		h := a4 >> 16
		lo, hi := d.top4[h], d.top4[h+1]
		for lo < hi {
			mid := (lo + hi + 1) / 2
			if d.starts4[mid] <= a4 {
				lo = mid
			} else {
				hi = mid - 1
			}
		}
		return lo
	case packet.FamilyIPv6:
		lo, hi := 0, len(d.starts6)-1
		for lo < hi {
			mid := (lo + hi + 1) / 2
			if !a6.less(d.starts6[mid]) {
				lo = mid
			} else {
				hi = mid - 1
			}
		}
		return d.base6 + uint32(lo)
	}
	return d.none
}

// classifier finds the first rule matching a packet. Each field maps the
// packet to a bitset of the rules that field accepts; the first rule is
// the lowest bit of their intersection. Rows carry aggregate bit vectors
// (one bit per 64 rules) so that the intersection visits only words where
// every field has a candidate, scanning in rule order and stopping at the
// first word with a match.
type classifier struct {
	n, words, sumWords int
	inv                []dim    // fields a flow's packets share (cacheable)
	vari               []dim    // tcp_flags, icmp: may change packet to packet
	variant            []uint64 // rules with a flow-variant match
	tree               *tree    // the simple rules; nil: the bit vectors hold all
	rowRules           int      // rules the bit vectors hold
	firstRow           int      // the first of them
}

// maxDims bounds the per-lookup scratch arrays.
const maxDims = int(numFields)

// lookup returns the first matching rule (-1 for none) and whether every
// rule the decision depended on looked only at flow-invariant fields.
func (c *classifier) lookup(k *keys) (int, bool) {
	if c.tree == nil {
		return c.lookupScan(k, c.n)
	}
	r := c.lookupTree(k)
	limit := r
	if r < 0 {
		limit = c.n
	}
	if c.firstRow >= limit {
		return r, true // no rule the bit vectors hold comes first
	}
	s, cacheable := c.lookupScan(k, limit)
	if s >= 0 {
		return s, cacheable
	}
	return r, cacheable
}

// rowOffsets computes each field's row for the packet, as word offsets.
func (c *classifier) rowOffsets(k *keys, off, soff, voff *[maxDims]int) {
	for i := range c.inv {
		r := int(c.inv[i].row(k))
		off[i] = r * c.words
		soff[i] = r * c.sumWords
	}
	for i := range c.vari {
		voff[i] = int(c.vari[i].row(k)) * c.words
	}
}

// lookupTree returns the first simple rule matching the packet, -1 for
// none: it walks to the packet's leaf and checks its candidates' boxes in
// rule order.
func (c *classifier) lookupTree(k *keys) int {
	var tk [numTreeDims]uint64
	k.treeKeys(&tk)
	stream := c.tree.leaf(&tk)
	for j := 0; j < len(stream); {
		h := &stream[j]
		j++
		end := j + int(h.hi)
		i := j
		for i < end {
			ch := &stream[i]
			if v := tk[ch.dim]; v < ch.lo || v > ch.hi {
				break
			}
			i++
		}
		if i == end {
			return int(h.lo)
		}
		j = end
	}
	return -1
}

// lookupScan intersects the fields' bit vectors word by word in rule
// order, visiting only words the aggregate vectors allow, and considers
// rules below limit only.
func (c *classifier) lookupScan(k *keys, limit int) (int, bool) {
	var off, soff, voff [maxDims]int
	c.rowOffsets(k, &off, &soff, &voff)
	ni := len(c.inv)
	cacheable := true
	lastWord := (limit - 1) >> 6
	for s := 0; s <= lastWord>>6 && s < c.sumWords; s++ {
		sum := ^uint64(0)
		for i := 0; i < ni && sum != 0; i++ {
			sum &= c.inv[i].sums[soff[i]+s]
		}
		for sum != 0 {
			wi := s*64 + bits.TrailingZeros64(sum)
			sum &= sum - 1
			if wi > lastWord {
				break
			}
			w := ^uint64(0)
			if wi == lastWord && limit&63 != 0 {
				w = 1<<(limit&63) - 1
			}
			for i := 0; i < ni && w != 0; i++ {
				w &= c.inv[i].rows[off[i]+wi]
			}
			if w == 0 {
				continue
			}
			vm := w & c.variant[wi]
			for i := range c.vari {
				w &= c.vari[i].rows[voff[i]+wi]
			}
			if w == 0 {
				if vm != 0 {
					cacheable = false
				}
				continue
			}
			b := bits.TrailingZeros64(w)
			if vm&(2<<b-1) != 0 {
				cacheable = false
			}
			return wi*64 + b, cacheable
		}
	}
	return -1, cacheable
}

// build compiles a classifier over rules for a configuration with nports
// ports.
func build(rules []config.Rule, nports int) *classifier { return buildWith(rules, nports, true) }

// buildWith builds with or without the candidate tree.
func buildWith(rules []config.Rule, nports int, withTree bool) *classifier {
	n := len(rules)
	c := &classifier{n: n, words: (n + 63) / 64}
	c.variant = make([]uint64, c.words)
	for i := range rules {
		m := &rules[i].Match
		if len(m.ICMP) > 0 || m.TCPFlagsMask != 0 {
			c.variant[i/64] |= 1 << (i % 64)
		}
	}
	if withTree {
		c.tree = buildTree(rules, nports)
	}
	// With a tree, rules it checks by their boxes never read the bit
	// vectors: leaving them out keeps the vectors to a few rows.
	boxed := func(i int) bool { return c.tree != nil && c.tree.simple[i] }
	c.firstRow = n
	for i := range rules {
		if !boxed(i) {
			c.rowRules++
			c.firstRow = min(c.firstRow, i)
		}
	}
	for f := field(0); f < numFields; f++ {
		wild := make(bitset, c.words)
		var spans []span
		used := false
		for i := range rules {
			if boxed(i) {
				continue
			}
			s := fieldSpans(&rules[i].Match, f, i)
			if s == nil {
				wild.set(i)
				continue
			}
			used = true
			for _, sp := range s {
				if sp.rule >= 0 { // rule -1: the rule accepts no value of f
					spans = append(spans, sp)
				}
			}
		}
		if !used && f != fStateDir {
			continue // every rule accepts any value: the field cannot narrow anything
		}
		d := dim{f: f}
		switch f {
		case fSrc, fDst:
			d.buildAddr(c.words, wild, spans)
		default:
			d.buildDirect(c.words, wild, spans, domain(f, nports))
		}
		d.sums, c.sumWords = summarize(d.rows, c.words)
		if f == fICMP || f == fFlags {
			c.vari = append(c.vari, d)
		} else {
			c.inv = append(c.inv, d)
		}
	}
	// Most selective fields first, so that intersections empty early.
	slices.SortStableFunc(c.inv, func(a, b dim) int { return cmp.Compare(a.density(), b.density()) })
	return c
}

// density is the mean fraction of rules a row of d holds.
func (d *dim) density() float64 {
	n := 0
	for _, w := range d.rows {
		n += bits.OnesCount64(w)
	}
	return float64(n) / float64(max(len(d.rows), 1))
}

// domain is the number of key values of a small field.
func domain(f field, nports int) int {
	switch f {
	case fStateDir:
		return numStateKeys * 2
	case fProto, fFlags:
		return 256
	case fInPort:
		return nports + 1
	case fVLAN:
		return config.VLANUntagged + 1
	}
	return 65536
}

func (d *dim) buildDirect(words int, wild bitset, spans []span, size int) {
	starts, rows := elementary(words, wild, spans, u128{lo: uint64(size - 1)}, make([]uint64, 0, min(2*len(spans)+1, size)*words))
	d.rows = rows
	d.table = make([]uint32, size)
	r := 0
	for v := range d.table {
		for r+1 < len(starts) && starts[r+1].lo <= uint64(v) {
			r++
		}
		d.table[v] = uint32(r)
	}
}

func (d *dim) buildAddr(words int, wild bitset, spans []span) {
	var s4, s6 []span
	for _, s := range spans {
		if s.v4 {
			s4 = append(s4, s)
		} else {
			s6 = append(s6, s)
		}
	}
	rows := make([]uint64, 0, (2*len(spans)+3)*words)
	starts4, rows := elementary(words, wild, s4, u128{lo: 1<<32 - 1}, rows)
	starts6, rows := elementary(words, wild, s6, u128{^uint64(0), ^uint64(0)}, rows)
	d.starts4 = make([]uint32, len(starts4))
	for i, s := range starts4 {
		d.starts4[i] = uint32(s.lo)
	}
	d.top4 = make([]uint32, 65537)
	r := 0
	for h := 0; h <= 65536; h++ {
		if h == 65536 {
			d.top4[h] = uint32(len(starts4) - 1)
			break
		}
		for r+1 < len(d.starts4) && d.starts4[r+1] <= uint32(h)<<16 {
			r++
		}
		d.top4[h] = uint32(r)
	}
	d.starts6 = starts6
	d.base6 = uint32(len(starts4))
	d.none = uint32(len(starts4) + len(starts6))
	d.rows = append(rows, wild...)
}

// fieldSpans returns rule i's spans on field f, or nil when the rule
// accepts any value there.
func fieldSpans(m *config.Match, f field, i int) []span {
	one := func(lo, hi uint64) span { return span{lo: u128{lo: lo}, hi: u128{lo: hi}, rule: i} }
	ranges := func(rs []config.Range) []span {
		if len(rs) == 0 {
			return nil
		}
		out := make([]span, len(rs))
		for j, r := range rs {
			out[j] = one(uint64(r.Lo), uint64(r.Hi))
		}
		return out
	}
	switch f {
	case fStateDir:
		if m.States == 0 && m.Direction == config.DirAny {
			return nil
		}
		var out []span
		for s := 0; s < numStateKeys; s++ {
			if m.States != 0 && (s >= 8 || m.States&(1<<s) == 0) {
				continue
			}
			for dir := 0; dir < 2; dir++ {
				if m.Direction == config.DirOriginal && dir == 1 || m.Direction == config.DirReply && dir == 0 {
					continue
				}
				out = append(out, one(uint64(s*2+dir), uint64(s*2+dir)))
			}
		}
		if out == nil {
			out = []span{{rule: -1}} // matches nothing; kept out of every row
		}
		return out
	case fProto:
		if len(m.Protos) == 0 {
			return nil
		}
		out := make([]span, len(m.Protos))
		for j, p := range m.Protos {
			out[j] = one(uint64(p), uint64(p))
		}
		return out
	case fSrc, fDst:
		ps := m.Src
		if f == fDst {
			ps = m.Dst
		}
		if len(ps) == 0 {
			return nil
		}
		out := make([]span, len(ps))
		for j, p := range ps {
			out[j] = prefixSpan(p, i)
		}
		return out
	case fSport:
		return ranges(m.SrcPorts)
	case fDport:
		return ranges(m.DstPorts)
	case fInPort:
		if len(m.InPorts) == 0 {
			return nil
		}
		out := make([]span, len(m.InPorts))
		for j, p := range m.InPorts {
			out[j] = one(uint64(p), uint64(p))
		}
		return out
	case fVLAN:
		return ranges(m.VLAN)
	case fICMP:
		return ranges(m.ICMP)
	case fFlags:
		if m.TCPFlagsMask == 0 {
			return nil
		}
		var out []span
		for v := 0; v < 256; v++ {
			if uint8(v)&m.TCPFlagsMask == m.TCPFlagsValue {
				out = append(out, one(uint64(v), uint64(v)))
			}
		}
		if out == nil {
			out = []span{{rule: -1}}
		}
		return out
	}
	return nil
}

// prefixSpan returns p's address interval within its family's space.
func prefixSpan(p netip.Prefix, rule int) span {
	a := p.Addr()
	if a.Is4() {
		b := a.As4()
		v := uint64(binary.BigEndian.Uint32(b[:]))
		host := uint64(1)<<(32-p.Bits()) - 1
		return span{lo: u128{lo: v &^ host}, hi: u128{lo: v | host}, rule: rule, v4: true}
	}
	b := a.As16()
	v := u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
	lo, hi := v, v
	n := p.Bits()
	switch {
	case n == 0:
		lo, hi = u128{}, u128{^uint64(0), ^uint64(0)}
	case n <= 64:
		host := ^uint64(0) >> n
		if n == 64 {
			host = 0
		}
		lo = u128{v.hi &^ host, 0}
		hi = u128{v.hi | host, ^uint64(0)}
	default:
		host := uint64(1)<<(128-n) - 1
		lo.lo &^= host
		hi.lo |= host
	}
	return span{lo: lo, hi: hi, rule: rule}
}
