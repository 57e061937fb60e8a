package flowtable_test

import (
	"fmt"

	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/flowtable"
	"github.com/statewall/statewall/flowtable/arena"
)

// connState stands in for a tracker's per-connection state.
type connState struct {
	Packets [2]uint32
}

// A worker's table in an arena from a memory budget, and one burst: hash and
// look up every packet (prefetching when the table outgrows the caches),
// then update the hits and insert the misses.
func Example() {
	mem, huge, err := arena.Alloc(1 << 20)
	if err != nil {
		panic(err)
	}
	defer arena.Free(mem)
	_ = huge // false: the caller logs a warning that ordinary pages are in use
	tb, err := flowtable.New[flowtable.Key4, connState](flowtable.Config{Mem: mem, Seed: 1})
	if err != nil {
		panic(err)
	}

	var burst [4]packet.Tuple
	for i := range burst {
		burst[i] = packet.Tuple{Proto: packet.ProtoUDP, Family: packet.FamilyIPv4,
			Src: [16]byte{198, 18, 0, 1}, Dst: [16]byte{198, 18, 0, 2}, SrcPort: 5000, DstPort: 53}
	}
	burst[1].Src, burst[1].Dst = burst[1].Dst, burst[1].Src // the reply
	burst[1].SrcPort, burst[1].DstPort = 53, 5000

	var keys [4]flowtable.Key4
	var srcIsB [4]bool
	var hashes [4]uint64
	var refs [4]flowtable.Ref
	now := uint32(1000) // the worker's millisecond clock, read once per burst
	for i := range burst {
		keys[i], srcIsB[i] = flowtable.MakeKey4(&burst[i], 0)
		hashes[i] = keys[i].Hash()
	}
	tb.LookupBurst(keys[:], hashes[:], refs[:], tb.PrefetchUseful())
	for i, r := range refs {
		if r == 0 {
			r = tb.Lookup(keys[i], hashes[i]) // inserted earlier in this burst?
		}
		if r == 0 {
			var evicted bool
			if r, evicted = tb.Insert(keys[i], hashes[i], now); r == 0 {
				continue // table_full
			}
			_ = evicted
			e := tb.Entry(r)
			if srcIsB[i] {
				e.Flags |= flowtable.FlagOrigIsB
			}
		}
		e := tb.Entry(r)
		dir := 0
		if srcIsB[i] != (e.Flags&flowtable.FlagOrigIsB != 0) {
			dir = 1 // reply
		}
		e.Value.Packets[dir]++
		e.Expires = now + 30000
	}
	tb.Sweep(now, 64, nil) // bounded expiry work once per burst

	r := tb.Lookup(keys[0], hashes[0])
	fmt.Println(tb.Len(), tb.Entry(r).Value.Packets)
	// Output: 1 [3 1]
}
