package rules

import (
	"slices"

	"github.com/statewall/statewall/config"
	"github.com/statewall/statewall/dataplane/packet"
)

// The decision tree classifies the rules that are unions of a few boxes: a
// HyperSplit tree (Qi, Xu, Yang, Li, Li, "Packet classification
// algorithms: from theory to practice", INFOCOM 2009), a binary tree whose
// nodes split one field's range at a box boundary.
//
// A rule looking at no flow-variant field is the product of its fields'
// value lists; when that product has at most maxBoxes terms the rule is
// the exact union of as many boxes (one range per dimension), and the tree
// holds those boxes. A leaf lists, in rule order, every box that meets
// its region, cut after the first box that covers all of it, so the first
// rule whose box holds the packet is the first matching rule of the tree.
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

// leafDim marks a leaf node; headerDim a candidate header in the stream.
const (
	leafDim   = 255
	headerDim = 254
)

// Tree shape limits: leaves of at most binth boxes unless no split
// separates them. Boxes that overlap a lot replicate into many leaves;
// past a budget of 16 candidate entries per box (or of split work) the
// tree is dropped and the bit vectors hold every rule.
const (
	binth        = 8
	maxTreeDepth = 40
	sampleBoxes  = 256
	maxBoxes     = 4 // boxes a rule may expand into
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
	// Leaves are runs of entries in one stream: per candidate box a header
	// {lo: rule, hi: number of checks, dim: headerDim} then its checks
	// inline, so a leaf is checked against the keys in one sweep.
	stream []boxCheck
	simple []bool // per rule: held by the tree
	boxes  int    // boxes the simple rules expand into
	cands  int    // candidate entries in leaves
}

// boxCheck is one dimension of a box: the key must lie in [lo, hi].
type boxCheck struct {
	lo, hi uint64
	dim    uint8
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

var fullRange = [numTreeDims]rng{
	tStateDir: {0, ^uint64(0)}, tProto: {0, ^uint64(0)}, tFam: {0, ^uint64(0)},
	tSrc4: {0, ^uint64(0)}, tDst4: {0, ^uint64(0)},
	tSrc6Hi: {0, ^uint64(0)}, tSrc6Lo: {0, ^uint64(0)}, tDst6Hi: {0, ^uint64(0)}, tDst6Lo: {0, ^uint64(0)},
	tSport: {0, ^uint64(0)}, tDport: {0, ^uint64(0)}, tInPort: {0, ^uint64(0)}, tVLAN: {0, ^uint64(0)},
}

// box is one term of a rule's expansion: a range per dimension.
type box struct {
	r    [numTreeDims]rng
	rule int32
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

// alt is one alternative of a field: ranges on up to three dimensions
// (an IPv6 prefix uses two, plus the family).
type alt struct {
	n    int
	dims [3]uint8
	r    [3]rng
	fam  uint64 // 1 or 2 for address alternatives, else 0
}

// expand returns rule i's boxes, or false when the rule looks at a
// flow-variant field or would need more than maxBoxes boxes. A rule that
// matches nothing expands into no box.
func expand(m *config.Match, i int) ([]box, bool) {
	if len(m.ICMP) > 0 || m.TCPFlagsMask != 0 {
		return nil, false
	}
	var fields [][]alt
	small := func(f field, d uint8) {
		s := fieldSpans(m, f, i)
		if s == nil {
			return
		}
		var rs []rng
		for _, x := range s {
			if x.rule >= 0 {
				rs = append(rs, rng{x.lo.lo, x.hi.lo})
			}
		}
		var alts []alt
		for _, r := range mergeRanges(rs) {
			alts = append(alts, alt{n: 1, dims: [3]uint8{d}, r: [3]rng{r}})
		}
		fields = append(fields, alts) // empty: the rule matches nothing
	}
	addr := func(f field, d4, dhi, dlo uint8) {
		s := fieldSpans(m, f, i)
		if s == nil {
			return
		}
		var v4 []rng
		var alts []alt
		for _, x := range s {
			if x.v4 {
				v4 = append(v4, rng{x.lo.lo, x.hi.lo})
			} else {
				alts = append(alts, alt{n: 2, dims: [3]uint8{dhi, dlo}, r: [3]rng{{x.lo.hi, x.hi.hi}, {x.lo.lo, x.hi.lo}}, fam: 2})
			}
		}
		for _, r := range mergeRanges(v4) {
			alts = append(alts, alt{n: 1, dims: [3]uint8{d4}, r: [3]rng{r}, fam: 1})
		}
		fields = append(fields, alts)
	}
	addr(fDst, tDst4, tDst6Hi, tDst6Lo)
	addr(fSrc, tSrc4, tSrc6Hi, tSrc6Lo)
	small(fDport, tDport)
	small(fSport, tSport)
	small(fProto, tProto)
	small(fStateDir, tStateDir)
	small(fInPort, tInPort)
	small(fVLAN, tVLAN)
	total := 1
	for _, alts := range fields {
		total *= len(alts)
		if total > maxBoxes {
			return nil, false
		}
	}
	out := make([]box, 0, total)
	var rec func(k int, b box, fam uint64)
	rec = func(k int, b box, fam uint64) {
		if k == len(fields) {
			if fam != 0 {
				b.r[tFam] = rng{fam, fam}
			}
			out = append(out, b)
			return
		}
		for _, a := range fields[k] {
			if a.fam != 0 && fam != 0 && a.fam != fam {
				continue // an IPv4 source and an IPv6 destination: no packet
			}
			nb := b
			for j := 0; j < a.n; j++ {
				nb.r[a.dims[j]] = a.r[j]
			}
			rec(k+1, nb, max(fam, a.fam))
		}
	}
	rec(0, box{r: fullRange, rule: int32(i)}, 0)
	return out, true
}

// checkOrder is the order a box's checks are tried in: the most selective
// fields first.
var checkOrder = [numTreeDims]uint8{tDst4, tDst6Hi, tDst6Lo, tSrc4, tSrc6Hi, tSrc6Lo, tDport, tSport, tProto, tStateDir, tInPort, tVLAN, tFam}

func (b *box) checks(out []boxCheck) []boxCheck {
	for _, d := range checkOrder {
		if b.r[d] != fullRange[d] {
			out = append(out, boxCheck{b.r[d].lo, b.r[d].hi, d})
		}
	}
	return out
}

func (b *box) covers(reg *[numTreeDims]rng) bool {
	for d := range b.r {
		if reg[d].lo < b.r[d].lo || reg[d].hi > b.r[d].hi {
			return false
		}
	}
	return true
}

type treeBuilder struct {
	t      tree
	boxes  []box
	budget int // candidate entries plus nodes
	work   int // box visits left for choosing splits
	failed bool
	scr    []uint64
	stack  []int32 // candidate lists of the nodes being built
	chk    []boxCheck
}

// buildTree returns the tree of the rules that expand into boxes, or nil
// when it would exceed its budget.
func buildTree(rules []config.Rule, nports int) *tree {
	b := &treeBuilder{}
	b.t.simple = make([]bool, len(rules))
	for i := range rules {
		bs, ok := expand(&rules[i].Match, i)
		if ok {
			b.t.simple[i] = true
			b.boxes = append(b.boxes, bs...)
		}
	}
	n := len(b.boxes)
	b.t.boxes = n
	b.budget, b.work = 16*n+1<<12, 1024*n+1<<20
	root := make([]int32, n)
	for i := range root {
		root[i] = int32(i)
	}
	b.stack = make([]int32, 0, 8*n+64)
	b.t.stream = make([]boxCheck, 0, 8*n+64)
	b.t.nodes = make([]treeNode, 1, n/2+16)
	reg := [numTreeDims]rng{
		tStateDir: {0, numStateKeys*2 - 1}, tProto: {0, 255}, tFam: {0, 2},
		tSrc4: {0, 1<<32 - 1}, tDst4: {0, 1<<32 - 1},
		tSrc6Hi: {0, ^uint64(0)}, tSrc6Lo: {0, ^uint64(0)}, tDst6Hi: {0, ^uint64(0)}, tDst6Lo: {0, ^uint64(0)},
		tSport: {0, 65535}, tDport: {0, 65535}, tInPort: {0, uint64(nports)}, tVLAN: {0, config.VLANUntagged},
	}
	b.node(0, &reg, root, 0)
	if b.failed {
		return nil
	}
	return &b.t
}

// node builds the subtree for reg and its boxes (in rule order) into id.
func (b *treeBuilder) node(id int32, reg *[numTreeDims]rng, list []int32, depth int) {
	for k, x := range list {
		if b.boxes[x].covers(reg) {
			list = list[:k+1]
			break
		}
	}
	b.work -= min(len(list), 2*sampleBoxes)*numTreeDims + 2*len(list)
	if b.t.cands+len(b.t.nodes) > b.budget || b.work < 0 {
		b.failed = true
		return
	}
	dim, thr, ok := -1, uint64(0), false
	if len(list) > binth && depth < maxTreeDepth {
		dim, thr, ok = b.split(reg, list)
	}
	if !ok {
		b.leaf(id, list)
		return
	}
	// The children's lists live on a stack shared by the whole build:
	// pushed here, popped when both subtrees are done. (A reallocation
	// leaves lists already handed out in the old array, still valid.)
	mark := len(b.stack)
	for _, x := range list {
		if b.boxes[x].r[dim].lo <= thr {
			b.stack = append(b.stack, x)
		}
	}
	left := b.stack[mark:len(b.stack):len(b.stack)]
	mid := len(b.stack)
	for _, x := range list {
		if b.boxes[x].r[dim].hi > thr {
			b.stack = append(b.stack, x)
		}
	}
	right := b.stack[mid:len(b.stack):len(b.stack)]
	if len(left) == len(list) && len(right) == len(list) {
		b.stack = b.stack[:mark] // the sample promised progress the list does not make
		b.leaf(id, list)
		return
	}
	// Children take adjacent slots so a lookup indexes the next node
	// instead of branching on the comparison.
	child := int32(len(b.t.nodes))
	b.t.nodes = append(b.t.nodes, treeNode{}, treeNode{})
	b.t.nodes[id] = treeNode{thr: thr, left: child, dim: uint8(dim)}
	r := reg[dim]
	reg[dim] = rng{r.lo, thr}
	b.node(child, reg, left, depth+1)
	reg[dim] = rng{thr + 1, r.hi}
	b.node(child+1, reg, right, depth+1)
	reg[dim] = r
	b.stack = b.stack[:mark]
}

// leaf makes id a leaf of the boxes in list.
func (b *treeBuilder) leaf(id int32, list []int32) {
	start := int32(len(b.t.stream))
	for _, x := range list {
		bx := &b.boxes[x]
		b.chk = bx.checks(b.chk[:0])
		b.t.stream = append(b.t.stream, boxCheck{uint64(bx.rule), uint64(len(b.chk)), headerDim})
		b.t.stream = append(b.t.stream, b.chk...)
	}
	b.t.cands += len(list)
	b.t.nodes[id] = treeNode{left: start, thr: uint64(len(b.t.stream)), dim: leafDim}
}

// split picks, over all dimensions, the median box boundary that best
// balances the two sides (fewest boxes on the larger side), estimated on
// a sample of the boxes.
func (b *treeBuilder) split(reg *[numTreeDims]rng, list []int32) (int, uint64, bool) {
	step := max(1, len(list)/sampleBoxes)
	best, bestThr, bestCost, bestSum := -1, uint64(0), (len(list)+step-1)/step, 0
	for d := 0; d < numTreeDims; d++ {
		r := reg[d]
		if r.lo == r.hi {
			continue
		}
		b.scr = b.scr[:0]
		for k := 0; k < len(list); k += step {
			x := b.boxes[list[k]].r[d]
			if x.lo > r.lo && x.lo <= r.hi {
				b.scr = append(b.scr, x.lo-1)
			}
			if x.hi >= r.lo && x.hi < r.hi {
				b.scr = append(b.scr, x.hi)
			}
		}
		if len(b.scr) == 0 {
			continue
		}
		slices.Sort(b.scr)
		thr := b.scr[len(b.scr)/2]
		nl, nr := 0, 0
		for k := 0; k < len(list); k += step {
			x := b.boxes[list[k]].r[d]
			if x.lo <= thr {
				nl++
			}
			if x.hi > thr {
				nr++
			}
		}
		cost := max(nl, nr)
		if cost < bestCost || cost == bestCost && best >= 0 && nl+nr < bestSum {
			best, bestThr, bestCost, bestSum = d, thr, cost, nl+nr
		}
	}
	return best, bestThr, best >= 0
}
