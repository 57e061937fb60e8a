package flowtable

import "math/bits"

// RangeFrom calls fn for at most limit live entries whose refs are at
// least from, in ref order, and returns the ref to continue from: 0 once
// no live entry remains past the last one visited. It lets the control
// path list a large table a chunk at a time between bursts. Entries
// inserted or deleted between two calls may or may not be visited.
func (t *Table[K, V]) RangeFrom(from Ref, limit int, fn func(r Ref, e *Entry[K, V])) Ref {
	if from == 0 {
		from = 1
	}
	i := uint32(from - 1)
	for wi := int(i / 64); wi < len(t.live); wi++ {
		w := t.live[wi]
		if wi == int(i/64) {
			w &^= 1<<(i%64) - 1 // drop entries below from
		}
		for w != 0 {
			j := uint32(wi*64 + bits.TrailingZeros64(w))
			w &= w - 1
			if limit == 0 {
				return Ref(j + 1)
			}
			fn(Ref(j+1), t.entry(Ref(j+1)))
			limit--
		}
	}
	return 0
}
