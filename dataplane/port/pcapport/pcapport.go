// Package pcapport is a Port that reads a capture file (pcap or pcapng,
// optionally gzip-compressed) for offline replay, delivering each frame
// with its capture timestamp, and discards what is transmitted (or writes
// it to a pcap file). It reads with gopacket's pcapgo, not libpcap.
package pcapport

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/dataplane/port"
)

// maxSnaplen is the largest record a capture may hold (libpcap's
// MAXIMUM_SNAPLEN).
const maxSnaplen = 262144

// Reader yields the frames of a capture file in order.
type Reader struct {
	file   *os.File
	read   func() ([]byte, int64, int, error) // data, ts ns, interface index
	link   packet.LinkType
	ifLink func(i int) packet.LinkType
}

// LinkOf maps a capture link type to the parser's; ok is false for link
// types the engine cannot read.
func LinkOf(lt layers.LinkType) (packet.LinkType, bool) {
	return packet.LinkTypeFromDLT(uint32(lt))
}

// Open opens a capture file: pcap (either byte order, micro- or
// nanosecond timestamps), pcapng (every section), or either one gzipped.
func Open(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r, err := newReader(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	r.file = f
	return r, nil
}

func newReader(f io.Reader) (*Reader, error) {
	br := bufio.NewReaderSize(f, 1<<16)
	magic, err := br.Peek(4)
	if err != nil {
		return nil, fmt.Errorf("reading capture header: %w", err)
	}
	if magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, err
		}
		return newReader(gz)
	}
	r := &Reader{}
	if bytes.Equal(magic, []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		ng, err := pcapgo.NewNgReader(br, pcapgo.NgReaderOptions{WantMixedLinkType: true})
		if err != nil {
			return nil, err
		}
		r.link = packet.LinkEthernet
		if ifc, err := ng.Interface(0); err == nil {
			if l, ok := LinkOf(ifc.LinkType); ok {
				r.link = l
			}
		}
		r.ifLink = func(i int) packet.LinkType {
			if ifc, err := ng.Interface(i); err == nil {
				if l, ok := LinkOf(ifc.LinkType); ok {
					return l
				}
			}
			return r.link
		}
		r.read = func() ([]byte, int64, int, error) {
			d, ci, err := ng.ZeroCopyReadPacketData()
			return d, ci.Timestamp.UnixNano(), ci.InterfaceIndex, err
		}
		return r, nil
	}
	pr, err := pcapgo.NewReader(br)
	if err != nil {
		return nil, err
	}
	// Some captures (fuzzer output, truncating tools) declare a snap
	// length below their records' lengths; read them whole, as tshark does.
	if pr.Snaplen() < maxSnaplen {
		pr.SetSnaplen(maxSnaplen)
	}
	l, ok := LinkOf(pr.LinkType())
	if !ok {
		return nil, fmt.Errorf("unsupported link type %d", pr.LinkType())
	}
	r.link = l
	r.read = func() ([]byte, int64, int, error) {
		d, ci, err := pr.ZeroCopyReadPacketData()
		return d, ci.Timestamp.UnixNano(), 0, err
	}
	return r, nil
}

// LinkType is the capture's link type (of its first interface).
func (r *Reader) LinkType() packet.LinkType { return r.link }

// Next returns the next frame, its timestamp in nanoseconds and its link
// type. The data is valid until the next call. At the end it returns
// io.EOF; a truncated last record ends the capture like EOF. Other errors
// (a damaged record, a pcapng section of an unknown version) end the
// capture there, as tshark reads it, and are returned.
func (r *Reader) Next() (data []byte, ts int64, link packet.LinkType, err error) {
	d, ts, ifi, err := r.read()
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, 0, 0, io.EOF
		}
		return nil, 0, 0, err
	}
	link = r.link
	if r.ifLink != nil {
		link = r.ifLink(ifi)
	}
	return d, ts, link, nil
}

// Close closes the file.
func (r *Reader) Close() error {
	if r.file != nil {
		return r.file.Close()
	}
	return nil
}

// Port delivers a capture's frames as a port. Frames are copied into
// per-slot buffers that stay valid for the burst; transmitted frames are
// counted and discarded.
type Port struct {
	name  string
	r     *Reader
	bufs  [][]byte
	links []packet.LinkType
	done  bool
	err   error
	stats port.Stats
}

// NewPort returns a port reading r, delivering bursts of up to burst frames.
func NewPort(name string, r *Reader, burst int) *Port {
	p := &Port{name: name, r: r, bufs: make([][]byte, burst), links: make([]packet.LinkType, burst)}
	for i := range p.bufs {
		p.bufs[i] = make([]byte, 0, 2048)
	}
	return p
}

// Name identifies the port.
func (p *Port) Name() string { return p.name }

// LinkType is the capture's link type.
func (p *Port) LinkType() packet.LinkType { return p.r.link }

// FrameLink returns the link type of the i-th frame of the last burst
// (pcapng captures may mix interfaces of different link types).
func (p *Port) FrameLink(i int) packet.LinkType { return p.links[i] }

// RxBurst reads up to len(frames) frames from the capture.
func (p *Port) RxBurst(_ int, frames []port.Frame) int {
	n := 0
	for n < len(frames) && n < len(p.bufs) && !p.done {
		d, ts, link, err := p.r.Next()
		if err != nil {
			p.done = true
			if err != io.EOF {
				p.err = err
			}
			break
		}
		p.bufs[n] = append(p.bufs[n][:0], d...)
		p.links[n] = link
		frames[n] = port.Frame{Data: p.bufs[n], Handle: uintptr(n), Timestamp: ts}
		p.stats.RxPackets++
		p.stats.RxBytes += uint64(len(d))
		n++
	}
	return n
}

// TxBurst counts and discards frames.
func (p *Port) TxBurst(_ int, frames []port.Frame) int {
	for i := range frames {
		p.stats.TxPackets++
		p.stats.TxBytes += uint64(len(frames[i].Data))
	}
	return len(frames)
}

// Retain makes frame i of the last burst outlive the burst (a fragment
// held for reassembly): its slot gets a fresh buffer.
func (p *Port) Retain(i int) {
	p.bufs[i] = make([]byte, 0, 2048)
}

// Free releases frames; the slot buffers are reused.
func (p *Port) Free([]port.Frame) {}

// Done reports that the capture has been read to its end.
func (p *Port) Done() bool { return p.done }

// Err returns the read error that ended the capture early, if any.
func (p *Port) Err() error { return p.err }

// Stats returns the port's counters.
func (p *Port) Stats() port.Stats { return p.stats }
