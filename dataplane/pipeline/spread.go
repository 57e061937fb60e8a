package pipeline

import (
	"encoding/binary"

	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/dataplane/port"
	"github.com/statewall/statewall/dataplane/rss"
)

// FrameRing is a single-producer, single-consumer queue of frames between
// two workers (an rte_ring in the daemon).
type FrameRing interface {
	// Enqueue adds frames and returns how many fit; the caller keeps the rest.
	Enqueue(frames []port.Frame) int
	// Dequeue fills frames and returns how many it took.
	Dequeue(frames []port.Frame) int
}

// Spread hands the frames of a queue that several workers share (a port
// without RSS) to the worker that owns their connection: the reading
// worker keeps its own and enqueues the others' to their rings.
//
// The owner is chosen by a symmetric hash of the packet's address pair
// (for an ICMP error, of the packet it quotes), so both directions of a
// connection, every fragment of a datagram and the ICMP errors about a
// connection reach the same worker, and each table keeps a single owner.
// Connections between the same two hosts share a worker.
type Spread struct {
	Self  int         // this worker's index
	Rings []FrameRing // Rings[k] feeds worker k; Rings[Self] is unused
	// Link is the framing of the shared port.
	Link packet.LinkType

	parsed packet.Parsed
	out    handOff
}

// Owner returns the index of the worker among n that owns frame's
// connection. Frames that carry no IP stay with the reader (-1).
func (s *Spread) Owner(frame []byte, n int) int {
	p := &s.parsed
	if packet.Parse(frame, s.Link, p) == packet.ReasonNotIP || p.Tuple.Family == packet.FamilyNone {
		return -1
	}
	a, b := p.Tuple.Src, p.Tuple.Dst
	if p.ICMP.IsError && p.ICMP.InnerOK {
		a, b = p.ICMP.Inner.Src, p.ICMP.Inner.Dst
	}
	return int(pairHash(a, b) % uint64(n))
}

// pairHash is a symmetric hash of two addresses.
func pairHash(a, b [16]byte) uint64 {
	x0, x1 := binary.LittleEndian.Uint64(a[:8]), binary.LittleEndian.Uint64(a[8:])
	y0, y1 := binary.LittleEndian.Uint64(b[:8]), binary.LittleEndian.Uint64(b[8:])
	h := (x0 ^ y0) * 0x9e3779b97f4a7c15
	h ^= (x1 ^ y1) * 0xc2b2ae3d27d4eb4f
	h ^= (x0 + y0) * 0x165667b19e3779f9
	h ^= h >> 29
	h *= 0xbf58476d1ce4e5b9
	return h ^ h>>32
}

// split keeps this worker's frames at the front of frames, enqueues the
// others to their owners' rings, frees what does not fit, and returns how
// many frames are this worker's.
func (s *Spread) split(frames []port.Frame, in port.Port, c *Counters) int {
	n := len(s.Rings)
	keep := 0
	for i := range frames {
		o := s.Owner(frames[i].Data, n)
		if o < 0 || o == s.Self {
			frames[keep] = frames[i]
			keep++
			continue
		}
		s.out.hold(s.Rings, o, frames[i])
	}
	s.out.flush(s.Rings, in, c)
	return keep
}

// handOff collects frames for other workers during a burst and hands them
// over through those workers' rings at its end.
type handOff struct {
	pending [][]port.Frame // by owning worker
}

// hold queues frame f for worker k, whose ring is rings[k].
func (h *handOff) hold(rings []FrameRing, k int, f port.Frame) {
	if h.pending == nil {
		h.pending = make([][]port.Frame, len(rings))
		for i := range h.pending {
			h.pending[i] = make([]port.Frame, 0, MaxBurst)
		}
	}
	h.pending[k] = append(h.pending[k], f)
}

// flush enqueues the held frames to their owners' rings, frees (and
// counts) what does not fit, and counts what was handed over.
func (h *handOff) flush(rings []FrameRing, in port.Port, c *Counters) {
	for k, p := range h.pending {
		if len(p) == 0 {
			continue
		}
		sent := rings[k].Enqueue(p)
		if sent < len(p) {
			in.Free(p[sent:])
			c.SpreadDropped += uint64(len(p) - sent)
		}
		c.Spread += uint64(sent)
		h.pending[k] = p[:0]
	}
}

// RingPort is the receiving side of a worker's ring: it delivers the
// frames other workers handed over, and transmits and frees through the
// port they came from (on this worker's own TX queue).
type RingPort struct {
	Ring    FrameRing
	Port    port.Port // the port the frames were received on
	TxQueue int       // this worker's TX queue on Port
}

// Name identifies the ring by the port it serves.
func (r *RingPort) Name() string { return r.Port.Name() + "-ring" }

// LinkType is the port's framing.
func (r *RingPort) LinkType() packet.LinkType { return r.Port.LinkType() }

// RxBurst takes frames from the ring.
func (r *RingPort) RxBurst(_ int, frames []port.Frame) int { return r.Ring.Dequeue(frames) }

// TxBurst sends replies out of the port, on this worker's TX queue.
func (r *RingPort) TxBurst(_ int, frames []port.Frame) int { return r.Port.TxBurst(r.TxQueue, frames) }

// Free releases frames to the port they came from.
func (r *RingPort) Free(frames []port.Frame) { r.Port.Free(frames) }

// Done reports whether the port is exhausted (rings never are).
func (r *RingPort) Done() bool { return r.Port.Done() }

// Stats are the port's own (the ring counts nothing of its own).
func (r *RingPort) Stats() port.Stats { return port.Stats{} }

// Redirect hands ICMP errors that RSS delivered to the wrong worker to
// the worker owning the connection they quote. A port with symmetric RSS
// over its IP addresses sends both directions of a connection, and all
// fragments of a datagram, to one queue; an ICMP error is hashed on its
// outer addresses (router to host), so its owner is found by hashing the
// quoted packet's addresses the way the NIC does (software Toeplitz and
// the port's redirection table).
type Redirect struct {
	Self int // this worker's index
	// QueueOwner is the worker that polls each RX queue of the port.
	QueueOwner []int
	RSS        *rss.Table
	Rings      []FrameRing // Rings[k] feeds worker k; Rings[Self] is unused

	out handOff
}

// owner returns the worker owning the connection p quotes, or -1 when p
// is not an ICMP error quoting a packet.
func (r *Redirect) owner(p *packet.Parsed) int {
	if !p.ICMP.IsError || !p.ICMP.InnerOK || (p.Tuple.Proto != packet.ProtoICMP && p.Tuple.Proto != packet.ProtoICMPv6) {
		return -1
	}
	q := int(r.RSS.QueueOf(&p.ICMP.Inner.Src, &p.ICMP.Inner.Dst, p.ICMP.Inner.Family))
	if q >= len(r.QueueOwner) {
		return -1
	}
	return r.QueueOwner[q]
}

// hold queues frame f for worker k.
func (r *Redirect) hold(k int, f port.Frame) { r.out.hold(r.Rings, k, f) }

// flush hands the held frames to their owners.
func (r *Redirect) flush(in port.Port, c *Counters) { r.out.flush(r.Rings, in, c) }
