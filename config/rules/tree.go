package rules

import (
	"slices"

	"github.com/statewall/statewall/config"
	"github.com/statewall/statewall/dataplane/packet"
)

// The decision tree classifies the simple rules (see tree.stream): a
// HyperSplit tree (Qi, Xu, Yang, Li, Li, "Packet classification
// algorithms: from theory to practice", INFOCOM 2009), a binary tree whose
// nodes split one field's range at a rule boundary. A leaf lists, in rule
// order, every simple rule that may match a packet in its region, up to
// the first that surely matches all of it, so the first match is exact.
// The other rules are left to the bit vectors, which the lookup scans only
// below the tree's answer.

// Tree dimensions: every field as a uint64 key; IPv6 addresses take two.
const (
	tStateDir = iota
	tProto
	tFam // 0 no IP, 1 IPv4, 2 IPv6
	tSrc4
	tSrc6Hi
	tSrc6Lo
	tDst4
	tDst6Hi
	tDst6Lo
	tSport
	tDport
	tInPort
	tVLAN
	numTreeDims
)

const leafDim = 255

// Tree shape limits: leaves of at most binth rules unless no split
// separates them. Rules that overlap a lot (wide and narrow ranges on the
// same fields) replicate into many leaves; past a budget of 16 candidate
// entries per rule the tree is dropped and lookups scan the aggregated bit
// vectors instead, which costs more per packet but bounds build time and
// memory.
const (
	binth        = 8
	maxTreeDepth = 40
	sampleRules  = 256
)

type rng struct{ lo, hi uint64 }

// treeNode is 16 bytes, four to a cache line. An inner node's children
// are nodes[left] (key <= thr) and nodes[left+1]; a leaf's candidates are
// stream[left:thr].
type treeNode struct {
	thr  uint64
	left int32
	dim  uint8
}

type tree struct {
	nodes []treeNode
	// The tree holds the simple rules: those whose every field is one
	// range (a single prefix, one port range, ...) and that look at no
	// flow-variant field. Leaves are runs of entries in one stream: per
	// candidate rule a header {lo: rule, hi: number of checks, dim:
	// headerDim} then its checks inline, so a leaf is checked against the
	// tree keys in one sequential sweep.
	stream []boxCheck
	simple []bool // per rule: in the tree
	cands  int    // candidate entries, for the budget and summaries
}

// maxChecks bounds a simple rule's checks.
const maxChecks = 255

// headerDim marks a candidate header in the leaf stream.
const headerDim = 254

type boxCheck struct {
	lo, hi uint64
	dim    uint8
}

// simpleBox returns the checks of a rule whose projection is exact and
// one range per dimension, or false.
func (p *ruleProj) simpleBox() ([]boxCheck, bool) {
	if p.variant || p.never {
		return nil, false
	}
	var out []boxCheck
	fam := uint64(0)
	for _, f := range []struct {
		a            *addrProj
		d4, dhi, dlo int
	}{{&p.dst, tDst4, tDst6Hi, tDst6Lo}, {&p.src, tSrc4, tSrc6Hi, tSrc6Lo}} {
		a := f.a
		switch {
		case a.any:
		case len(a.v4) == 1 && len(a.v6) == 0 && fam != 2:
			fam = 1
			out = append(out, boxCheck{a.v4[0].lo, a.v4[0].hi, uint8(f.d4)})
		case len(a.v6) == 1 && len(a.v4) == 0 && fam != 1:
			fam = 2
			out = append(out, boxCheck{a.v6[0][0].lo, a.v6[0][0].hi, uint8(f.dhi)},
				boxCheck{a.v6[0][1].lo, a.v6[0][1].hi, uint8(f.dlo)})
		default:
			return nil, false
		}
	}
	for _, d := range []int{tDport, tSport, tProto, tStateDir, tInPort, tVLAN} {
		switch len(p.proj[d]) {
		case 0:
		case 1:
			out = append(out, boxCheck{p.proj[d][0].lo, p.proj[d][0].hi, uint8(d)})
		default:
			return nil, false
		}
	}
	if fam != 0 {
		out = append(out, boxCheck{fam, fam, tFam})
	}
	if len(out) > maxChecks {
		return nil, false
	}
	return out, true
}

// treeKeys fills the tree's keys from the classifier's keys.
func (k *keys) treeKeys(tk *[numTreeDims]uint64) {
	tk[tStateDir] = uint64(k.stateDir)
	tk[tProto] = uint64(k.proto)
	switch k.fam {
	case packet.FamilyIPv4:
		tk[tFam] = 1
	case packet.FamilyIPv6:
		tk[tFam] = 2
	}
	tk[tSrc4], tk[tDst4] = uint64(k.src4), uint64(k.dst4)
	tk[tSrc6Hi], tk[tSrc6Lo] = k.src6.hi, k.src6.lo
	tk[tDst6Hi], tk[tDst6Lo] = k.dst6.hi, k.dst6.lo
	tk[tSport], tk[tDport] = uint64(k.sport), uint64(k.dport)
	tk[tInPort], tk[tVLAN] = uint64(k.inPort), uint64(k.vlan)
}

// leaf walks the tree to the candidate stream for a packet.
func (t *tree) leaf(tk *[numTreeDims]uint64) []boxCheck {
	n := &t.nodes[0]
	for n.dim != leafDim {
		i := n.left // the right child is the next slot
		if tk[n.dim] > n.thr {
			i++
		}
		n = &t.nodes[i]
	}
	return t.stream[n.left:n.thr]
}

// addrProj is one address field of a rule, for exact cover checks.
type addrProj struct {
	any  bool
	v4   []rng    // merged IPv4 ranges
	v6   [][2]rng // IPv6 prefixes as (hi, lo) boxes
	has4 bool
	has6 bool
}

// ruleProj is a rule projected on every tree dimension: proj[d] holds
// merged ranges (nil: any value). Address dimensions over-approximate
// (a rule with IPv6 prefixes keeps value 0 on the IPv4 dimension, the key
// IPv6 packets carry there); src and dst keep the exact prefixes for covers.
type ruleProj struct {
	proj     [numTreeDims][]rng
	src, dst addrProj
	variant  bool
	never    bool // matches no packet at all
}

var fullRange = [numTreeDims]rng{
	tStateDir: {0, numStateKeys*2 - 1}, tProto: {0, 255}, tFam: {0, 2},
	tSrc4: {0, 1<<32 - 1}, tDst4: {0, 1<<32 - 1},
	tSrc6Hi: {0, ^uint64(0)}, tSrc6Lo: {0, ^uint64(0)}, tDst6Hi: {0, ^uint64(0)}, tDst6Lo: {0, ^uint64(0)},
	tSport: {0, 65535}, tDport: {0, 65535}, tInPort: {0, 65535}, tVLAN: {0, config.VLANUntagged},
}

func mergeRanges(rs []rng) []rng {
	slices.SortFunc(rs, func(a, b rng) int {
		switch {
		case a.lo < b.lo:
			return -1
		case a.lo > b.lo:
			return 1
		}
		return 0
	})
	out := rs[:0]
	for _, r := range rs {
		if n := len(out); n > 0 && (r.lo <= out[n-1].hi || out[n-1].hi != ^uint64(0) && r.lo == out[n-1].hi+1) {
			out[n-1].hi = max(out[n-1].hi, r.hi)
			continue
		}
		out = append(out, r)
	}
	return out
}

func project(m *config.Match, i int) ruleProj {
	var p ruleProj
	p.variant = len(m.ICMP) > 0 || m.TCPFlagsMask != 0
	small := func(f field, d int) {
		s := fieldSpans(m, f, i)
		if s == nil {
			return
		}
		rs := make([]rng, 0, len(s))
		for _, x := range s {
			if x.rule >= 0 {
				rs = append(rs, rng{x.lo.lo, x.hi.lo})
			}
		}
		if len(rs) == 0 {
			p.never = true
		}
		p.proj[d] = mergeRanges(rs)
	}
	small(fStateDir, tStateDir)
	small(fProto, tProto)
	small(fSport, tSport)
	small(fDport, tDport)
	small(fInPort, tInPort)
	small(fVLAN, tVLAN)
	fams := [3]bool{true, true, true}
	addr := func(f field, a *addrProj, d4, dhi, dlo int) {
		s := fieldSpans(m, f, i)
		if s == nil {
			a.any = true
			return
		}
		var r4, rhi, rlo []rng
		for _, x := range s {
			if x.v4 {
				a.has4 = true
				r4 = append(r4, rng{x.lo.lo, x.hi.lo})
				a.v4 = append(a.v4, rng{x.lo.lo, x.hi.lo})
			} else {
				a.has6 = true
				hi, lo := rng{x.lo.hi, x.hi.hi}, rng{x.lo.lo, x.hi.lo}
				rhi, rlo = append(rhi, hi), append(rlo, lo)
				a.v6 = append(a.v6, [2]rng{hi, lo})
			}
		}
		a.v4 = mergeRanges(a.v4)
		if a.has6 {
			r4 = append(r4, rng{0, 0})
		}
		if a.has4 {
			rhi, rlo = append(rhi, rng{0, 0}), append(rlo, rng{0, 0})
		}
		if len(r4) > 0 {
			p.proj[d4] = mergeRanges(r4)
		}
		if len(rhi) > 0 {
			p.proj[dhi], p.proj[dlo] = mergeRanges(rhi), mergeRanges(rlo)
		}
		fams[0] = false
		fams[1] = fams[1] && a.has4
		fams[2] = fams[2] && a.has6
	}
	addr(fSrc, &p.src, tSrc4, tSrc6Hi, tSrc6Lo)
	addr(fDst, &p.dst, tDst4, tDst6Hi, tDst6Lo)
	if !fams[0] || !fams[1] || !fams[2] {
		var rs []rng
		for f, ok := range fams {
			if ok {
				rs = append(rs, rng{uint64(f), uint64(f)})
			}
		}
		if len(rs) == 0 {
			p.never = true
		}
		p.proj[tFam] = mergeRanges(rs)
	}
	return p
}

// intersects reports whether ranges rs (nil: any) meet [lo, hi].
func intersects(rs []rng, lo, hi uint64) bool {
	if rs == nil {
		return true
	}
	for _, r := range rs {
		if r.lo <= hi && lo <= r.hi {
			return true
		}
	}
	return false
}

// within reports whether [lo, hi] lies inside one of rs (nil: any).
func within(rs []rng, r rng) bool {
	if rs == nil {
		return true
	}
	for _, x := range rs {
		if x.lo <= r.lo && r.hi <= x.hi {
			return true
		}
	}
	return false
}

func (a *addrProj) covers(reg *[numTreeDims]rng, d4, dhi, dlo int) bool {
	if a.any {
		return true
	}
	fam := reg[tFam]
	if fam.lo == 0 {
		return false // packets without IP are in the region
	}
	if fam.lo <= 1 && 1 <= fam.hi && !within(a.v4, reg[d4]) {
		return false
	}
	if fam.hi >= 2 {
		ok := false
		for _, b := range a.v6 {
			if b[0].lo <= reg[dhi].lo && reg[dhi].hi <= b[0].hi && b[1].lo <= reg[dlo].lo && reg[dlo].hi <= b[1].hi {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// covers reports whether the rule surely matches every packet in reg.
func (p *ruleProj) covers(reg *[numTreeDims]rng) bool {
	if p.variant {
		return false
	}
	for _, d := range []int{tStateDir, tProto, tSport, tDport, tInPort, tVLAN} {
		if !within(p.proj[d], reg[d]) {
			return false
		}
	}
	return p.src.covers(reg, tSrc4, tSrc6Hi, tSrc6Lo) && p.dst.covers(reg, tDst4, tDst6Hi, tDst6Lo)
}

type treeBuilder struct {
	t      tree
	proj   []ruleProj
	boxes  [][]boxCheck // per rule: its checks when simple
	budget int          // candidate entries plus nodes
	work   int          // rule visits left for choosing splits
	failed bool
	scr    []uint64
	stack  []int32 // candidate lists of the nodes being built
}

// buildTree returns nil when the tree would exceed its budget.
func buildTree(rules []config.Rule, nports int) *tree {
	b := &treeBuilder{proj: make([]ruleProj, len(rules)), budget: 16*len(rules) + 1<<12, work: 1024*len(rules) + 1<<20}
	root := make([]int32, 0, len(rules))
	b.stack = make([]int32, 0, 8*len(rules)+64)
	b.t.stream = make([]boxCheck, 0, 8*len(rules)+64)
	b.t.nodes = make([]treeNode, 0, len(rules)/2+16)
	b.t.simple = make([]bool, len(rules))
	b.boxes = make([][]boxCheck, len(rules))
	for i := range rules {
		b.proj[i] = project(&rules[i].Match, i)
		b.boxes[i], b.t.simple[i] = b.proj[i].simpleBox()
		if b.t.simple[i] {
			root = append(root, int32(i))
		}
	}
	reg := fullRange
	reg[tInPort] = rng{0, uint64(nports)}
	b.t.nodes = append(b.t.nodes, treeNode{})
	b.node(0, &reg, root, 0)
	if b.failed {
		return nil
	}
	return &b.t
}

// node builds the subtree for reg and rules into slot id.
func (b *treeBuilder) node(id int32, reg *[numTreeDims]rng, rules []int32, depth int) {
	for k, r := range rules {
		if b.proj[r].covers(reg) {
			rules = rules[:k+1]
			break
		}
	}
	b.work -= min(len(rules), 2*sampleRules)*numTreeDims + 2*len(rules)
	if b.t.cands+len(b.t.nodes) > b.budget || b.work < 0 {
		b.failed = true
		return
	}
	dim, thr, ok := -1, uint64(0), false
	if len(rules) > binth && depth < maxTreeDepth {
		dim, thr, ok = b.split(reg, rules)
	}
	if !ok {
		start := int32(len(b.t.stream))
		b.emit(rules)
		b.t.nodes[id] = treeNode{left: start, thr: uint64(len(b.t.stream)), dim: leafDim}
		return
	}
	// The children's lists live on a stack shared by the whole build:
	// pushed here, popped when both subtrees are done. (A reallocation
	// leaves lists already handed out in the old array, still valid.)
	mark := len(b.stack)
	r := reg[dim]
	for _, i := range rules {
		if intersects(b.proj[i].proj[dim], r.lo, thr) {
			b.stack = append(b.stack, i)
		}
	}
	left := b.stack[mark:len(b.stack):len(b.stack)]
	mid := len(b.stack)
	for _, i := range rules {
		if intersects(b.proj[i].proj[dim], thr+1, r.hi) {
			b.stack = append(b.stack, i)
		}
	}
	right := b.stack[mid:len(b.stack):len(b.stack)]
	if len(left) == len(rules) && len(right) == len(rules) {
		// The sample promised progress the whole list does not make.
		b.stack = b.stack[:mark]
		start := int32(len(b.t.stream))
		b.emit(rules)
		b.t.nodes[id] = treeNode{left: start, thr: uint64(len(b.t.stream)), dim: leafDim}
		return
	}
	reg[dim] = rng{r.lo, thr}
	// Children take adjacent slots so a lookup indexes the next node
	// instead of branching on the comparison.
	child := int32(len(b.t.nodes))
	b.t.nodes = append(b.t.nodes, treeNode{}, treeNode{})
	b.t.nodes[id] = treeNode{thr: thr, left: child, dim: uint8(dim)}
	b.node(child, reg, left, depth+1)
	reg[dim] = rng{thr + 1, r.hi}
	b.node(child+1, reg, right, depth+1)
	reg[dim] = r
	b.stack = b.stack[:mark]
}

// emit appends a leaf's candidates to the stream.
func (b *treeBuilder) emit(rules []int32) {
	for _, r := range rules {
		b.t.stream = append(b.t.stream, boxCheck{uint64(r), uint64(len(b.boxes[r])), headerDim})
		b.t.stream = append(b.t.stream, b.boxes[r]...)
	}
	b.t.cands += len(rules)
}

// split picks, over all dimensions, the median rule boundary that best
// balances the two sides (fewest rules on the larger side).
func (b *treeBuilder) split(reg *[numTreeDims]rng, rules []int32) (int, uint64, bool) {
	step := max(1, len(rules)/sampleRules)
	best, bestThr, bestCost, bestSum := -1, uint64(0), (len(rules)+step-1)/step, 0
	for d := 0; d < numTreeDims; d++ {
		r := reg[d]
		if r.lo == r.hi {
			continue
		}
		b.scr = b.scr[:0]
		for k := 0; k < len(rules); k += step {
			for _, x := range b.proj[rules[k]].proj[d] {
				if x.lo > r.lo && x.lo <= r.hi {
					b.scr = append(b.scr, x.lo-1)
				}
				if x.hi >= r.lo && x.hi < r.hi {
					b.scr = append(b.scr, x.hi)
				}
			}
		}
		if len(b.scr) == 0 {
			continue
		}
		slices.Sort(b.scr)
		thr := b.scr[len(b.scr)/2]
		nl, nr := 0, 0 // estimated on the same sample
		for k := 0; k < len(rules); k += step {
			p := b.proj[rules[k]].proj[d]
			if intersects(p, r.lo, thr) {
				nl++
			}
			if intersects(p, thr+1, r.hi) {
				nr++
			}
		}
		cost := max(nl, nr)
		if cost < bestCost || cost == bestCost && best >= 0 && nl+nr < bestSum {
			// progress (cost < the sample size) is checked by node
			best, bestThr, bestCost, bestSum = d, thr, cost, nl+nr
		}
	}
	return best, bestThr, best >= 0
}
