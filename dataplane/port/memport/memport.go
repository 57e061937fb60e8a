// Package memport is an in-memory Port for tests and benchmarks: it
// delivers a fixed list of frames (once, or round and round without end)
// and records or counts what is transmitted. It never allocates per burst.
package memport

import (
	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/dataplane/port"
)

// Port is an in-memory source and sink of frames. It is not safe for
// concurrent use; one worker owns it.
type Port struct {
	name   string
	link   packet.LinkType
	frames [][]byte
	stamps []int64
	marks  []port.Verified
	next   int
	loop   bool

	record bool
	sent   [][]byte
	stats  port.Stats
}

// Option configures a Port.
type Option func(*Port)

// Loop makes the port deliver its frames round and round without end.
func Loop() Option { return func(p *Port) { p.loop = true } }

// Record makes the port keep every transmitted frame (for tests; it
// allocates per frame).
func Record() Option { return func(p *Port) { p.record = true } }

// Timestamps gives each frame a capture time in nanoseconds.
func Timestamps(ts []int64) Option { return func(p *Port) { p.stamps = ts } }

// Verified says which checksums a NIC would have found correct in each
// frame (port.Frame.Verified).
func Verified(v []port.Verified) Option { return func(p *Port) { p.marks = v } }

// WithLink sets the framing of the frames (Ethernet by default).
func WithLink(l packet.LinkType) Option { return func(p *Port) { p.link = l } }

// New returns a port named name that delivers frames.
func New(name string, frames [][]byte, opts ...Option) *Port {
	p := &Port{name: name, frames: frames}
	for _, o := range opts {
		o(p)
	}
	return p
}

// Name identifies the port.
func (p *Port) Name() string { return p.name }

// LinkType is the framing of the delivered frames.
func (p *Port) LinkType() packet.LinkType { return p.link }

// RxBurst delivers up to len(frames) frames.
func (p *Port) RxBurst(_ int, frames []port.Frame) int {
	n := 0
	for n < len(frames) && len(p.frames) > 0 {
		if p.next == len(p.frames) {
			if !p.loop {
				break
			}
			p.next = 0
		}
		f := &frames[n]
		f.Data = p.frames[p.next]
		f.Handle = uintptr(p.next)
		f.Timestamp, f.Verified = 0, 0
		if p.next < len(p.stamps) {
			f.Timestamp = p.stamps[p.next]
		}
		if p.next < len(p.marks) {
			f.Verified = p.marks[p.next]
		}
		p.stats.RxPackets++
		p.stats.RxBytes += uint64(len(f.Data))
		p.next++
		n++
	}
	return n
}

// TxBurst counts (and with Record keeps) every frame; it never refuses.
func (p *Port) TxBurst(_ int, frames []port.Frame) int {
	for i := range frames {
		p.stats.TxPackets++
		p.stats.TxBytes += uint64(len(frames[i].Data))
		if p.record {
			p.sent = append(p.sent, append([]byte(nil), frames[i].Data...))
		}
	}
	return len(frames)
}

// Free releases frames; in-memory frames need nothing.
func (p *Port) Free([]port.Frame) {}

// Done reports that a non-looping port delivered its last frame.
func (p *Port) Done() bool { return !p.loop && p.next >= len(p.frames) }

// Stats returns the port's counters.
func (p *Port) Stats() port.Stats { return p.stats }

// Sent returns the frames transmitted so far (with Record).
func (p *Port) Sent() [][]byte { return p.sent }

// Rewind starts delivery again from the first frame.
func (p *Port) Rewind() { p.next = 0 }
