package flowtable

import "testing"

func TestRangeFromVisitsEveryEntryOnceInChunks(t *testing.T) {
	tb, err := New[Key4, uint64](Config{Capacity: 1000})
	if err != nil {
		t.Fatal(err)
	}
	want := map[Ref]bool{}
	for i := 0; i < 700; i++ {
		k := NewKey4(198<<24|18<<16|uint32(i)&0xffff, 198<<24|19<<16|1, uint16(i), 80, 6, 0)
		r, _ := tb.Insert(k, k.Hash(), 0)
		if r == 0 {
			t.Fatalf("insert %d failed", i)
		}
		want[r] = true
	}
	for r := range want { // leave holes
		if r%3 == 0 {
			tb.Delete(r)
			delete(want, r)
		}
	}
	for _, chunk := range []int{1, 7, 64, 1000} {
		seen := map[Ref]bool{}
		var cur Ref
		calls := 0
		for {
			n := 0
			cur = tb.RangeFrom(cur, chunk, func(r Ref, e *Entry[Key4, uint64]) {
				if seen[r] {
					t.Fatalf("chunk %d: ref %d visited twice", chunk, r)
				}
				seen[r] = true
				n++
			})
			if n > chunk {
				t.Fatalf("chunk %d: visited %d in one call", chunk, n)
			}
			calls++
			if cur == 0 {
				break
			}
		}
		if len(seen) != len(want) {
			t.Errorf("chunk %d: visited %d entries, want %d", chunk, len(seen), len(want))
		}
		for r := range want {
			if !seen[r] {
				t.Errorf("chunk %d: ref %d not visited", chunk, r)
			}
		}
	}
}
