package rules

import (
	"math/bits"
	"slices"
)

// u128 is a point of a field's value space: addresses (IPv6 uses both
// words, IPv4 only lo) and every smaller field (lo only).
type u128 struct{ hi, lo uint64 }

func (a u128) less(b u128) bool { return a.hi < b.hi || a.hi == b.hi && a.lo < b.lo }

func (a u128) next() (u128, bool) {
	lo, carry := bits.Add64(a.lo, 1, 0)
	hi, over := bits.Add64(a.hi, 0, carry)
	return u128{hi, lo}, over == 0
}

// span is the interval [lo, hi] of one rule's match on one field.
type span struct {
	lo, hi u128
	rule   int
	v4     bool // an IPv4 address span (address fields keep two spaces)
}

// bitset is a set of rule indexes.
type bitset []uint64

func (b bitset) set(i int)   { b[i>>6] |= 1 << (i & 63) }
func (b bitset) clear(i int) { b[i>>6] &^= 1 << (i & 63) }

// elementary splits a field's value space [0, max] into the elementary
// intervals the rules' spans induce and returns each interval's start and
// the bitset of rules matching it (wild holds the rules without a
// constraint on the field). This is the per-dimension step of the
// bit-vector scheme (Lakshman and Stiliadis, SIGCOMM 1998): rules are
// swept in value order, so building costs O(E log E + intervals x words).
// Rows are appended to rows, which callers size.
func elementary(words int, wild bitset, spans []span, max u128, rows []uint64) (starts []u128, _ []uint64) {
	type event struct {
		at    u128
		rule  int
		delta int32
	}
	ev := make([]event, 0, 2*len(spans))
	for _, s := range spans {
		ev = append(ev, event{s.lo, s.rule, 1})
		if s.hi != max {
			end, _ := s.hi.next()
			ev = append(ev, event{end, s.rule, -1})
		}
	}
	slices.SortFunc(ev, func(a, b event) int {
		switch {
		case a.at.less(b.at):
			return -1
		case b.at.less(a.at):
			return 1
		}
		return 0
	})
	base := len(rows)
	cnt := make([]int32, words*64)
	cur := make(bitset, words)
	copy(cur, wild)
	emit := func(at u128) {
		n := len(starts)
		if n > 0 && equalWords(rows[base+(n-1)*words:base+n*words], cur) {
			return // no rule starts or ends here in net
		}
		starts = append(starts, at)
		rows = append(rows, cur...)
	}
	if len(ev) == 0 || ev[0].at != (u128{}) {
		emit(u128{})
	}
	for i := 0; i < len(ev); {
		at := ev[i].at
		for ; i < len(ev) && ev[i].at == at; i++ {
			e := ev[i]
			c := cnt[e.rule] + e.delta
			cnt[e.rule] = c
			if c > 0 {
				cur.set(e.rule)
			} else {
				cur.clear(e.rule)
			}
		}
		emit(at)
	}
	return starts, rows
}

func equalWords(a, b []uint64) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// summarize returns the aggregate bit vector of each row (Baboescu and
// Varghese, "Scalable packet classification", SIGCOMM 2001): bit j says
// whether the row's word j has any rule set.
func summarize(rows []uint64, words int) (sums []uint64, sumWords int) {
	sumWords = (words + 63) / 64
	if words == 0 {
		return nil, 0
	}
	nrows := len(rows) / words
	sums = make([]uint64, nrows*sumWords)
	for r := 0; r < nrows; r++ {
		row := rows[r*words : (r+1)*words]
		for j, w := range row {
			if w != 0 {
				sums[r*sumWords+j/64] |= 1 << (j % 64)
			}
		}
	}
	return sums, sumWords
}
