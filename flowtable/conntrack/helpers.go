package conntrack

import (
	"github.com/statewall/statewall/alg"
	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/flowtable"
)

// helperSlot is one connection's helper binding and scratch state.
type helperSlot struct {
	key    uint64 // family<<32 | ref; 0 = free
	helper uint8  // index into Tracker.helpers
	state  alg.ConnState
}

// helperPool holds the helper scratch of the few connections that have a
// helper attached, keyed by (family, entry ref), so Conn does not carry 16
// bytes every connection would pay for. It is an open-addressing table
// with linear probing and backward-shift deletion, allocated once; at most
// limit slots are used so probes stay short.
type helperPool struct {
	slots []helperSlot
	mask  uint64
	n     int
	limit int
}

func (h *helperPool) init(limit int) {
	if limit <= 0 {
		return
	}
	size := 4
	for size < 2*limit {
		size <<= 1
	}
	h.slots = make([]helperSlot, size)
	h.mask = uint64(size - 1)
	h.limit = limit
}

func poolKey(fam packet.Family, r flowtable.Ref) uint64 { return uint64(fam)<<32 | uint64(r) }

func (h *helperPool) home(k uint64) uint64 { return (k * 0x9e3779b97f4a7c15 >> 32) & h.mask }

// lookup returns the slot of (fam, r), or nil.
func (h *helperPool) lookup(fam packet.Family, r flowtable.Ref) *helperSlot {
	if h.n == 0 {
		return nil
	}
	k := poolKey(fam, r)
	for i := h.home(k); ; i = (i + 1) & h.mask {
		s := &h.slots[i]
		if s.key == k {
			return s
		}
		if s.key == 0 {
			return nil
		}
	}
}

// attach binds helper to (fam, r) with zeroed scratch; false when full.
func (h *helperPool) attach(fam packet.Family, r flowtable.Ref, helper uint8) bool {
	if h.n >= h.limit {
		return false
	}
	k := poolKey(fam, r)
	i := h.home(k)
	for h.slots[i].key != 0 && h.slots[i].key != k {
		i = (i + 1) & h.mask
	}
	if h.slots[i].key == 0 {
		h.n++
	}
	h.slots[i] = helperSlot{key: k, helper: helper}
	return true
}

// release frees the slot of (fam, r), if any.
func (h *helperPool) release(fam packet.Family, r flowtable.Ref) {
	if h.n == 0 {
		return
	}
	k := poolKey(fam, r)
	i := h.home(k)
	for h.slots[i].key != k {
		if h.slots[i].key == 0 {
			return
		}
		i = (i + 1) & h.mask
	}
	// Backward-shift deletion keeps every key reachable from its home.
	for j := (i + 1) & h.mask; h.slots[j].key != 0; j = (j + 1) & h.mask {
		hj := h.home(h.slots[j].key)
		if (j-hj)&h.mask >= (j-i)&h.mask {
			h.slots[i] = h.slots[j]
			i = j
		}
	}
	h.slots[i] = helperSlot{}
	h.n--
}
