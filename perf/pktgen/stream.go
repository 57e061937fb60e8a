package pktgen

import (
	"encoding/binary"

	"github.com/statewall/statewall/dataplane/packet"
)

// What pktgen puts in the fields a range leaves alone (its defaults for
// range packets): TCP segments are bare ACKs with fixed sequence and
// acknowledgement numbers, whichever port sends them.
const (
	tcpSeq    = 0x12378
	tcpAck    = 0x12390
	tcpWindow = 8192
	tcpACK    = 0x10
	ipTTL     = 64
)

// Frame layout: Ethernet, IPv4 without options, then the transport.
const (
	ethLen    = 14
	ipv4Len   = 20
	udpLen    = 8
	tcpLen    = 20
	fcsLen    = 4
	offIPSrc  = ethLen + 12
	offL4     = ethLen + ipv4Len
	offUDPSum = offL4 + 6
	offTCPSum = offL4 + 16
)

// PoolFrames is how many range frames pktgen builds per TX queue when a
// port starts (pktgen 23's mbufs per queue: (512 RX + 1024 TX
// descriptors) x 8). It sends those mbufs over and over without
// rebuilding them, so a port sends at most this many distinct frames per
// TX queue, however long its range's period.
const PoolFrames = 12288

// template is where a port's range fields start counting from: the
// port's single-packet defaults (pktgen_port_defaults), which the kit's
// scripts leave alone.
type template struct{ src, dst, sport, dport uint32 }

func templateOf(port int) template {
	return template{src: 192<<24 | 168<<16 | uint32(port)<<8 | 1, dst: 192<<24 | 168<<16 | uint32(port+1)<<8 | 1, sport: 1234, dport: 5678}
}

// Stream makes the frames one tester port with one TX queue sends, in
// pktgen's order: the pool's frames as built, then the same again.
type Stream struct {
	setup                        *PortSetup
	port, built                  int
	src, dst, sport, dport, size uint32
	frame                        [1518]byte
}

// Stream returns the frames the port sends.
func (p *PortSetup) Stream() *Stream {
	s := &Stream{setup: p, port: p.Port}
	s.rewind()
	return s
}

func (s *Stream) rewind() {
	t := templateOf(s.port)
	s.src, s.dst, s.sport, s.dport, s.size = t.src, t.dst, t.sport, t.dport, s.setup.Size.Start
	s.built = 0
}

// Flows is how many distinct 5-tuples the port sends: those of the
// frames in its pool.
func (p *PortSetup) Flows() int {
	s := p.Stream()
	seen := make(map[[3]uint32]bool, PoolFrames)
	for range PoolFrames {
		s.step()
		seen[[3]uint32{s.src, s.dst, s.sport<<16 | s.dport}] = true
	}
	return len(seen)
}

// step moves every field to the next frame's value, as pktgen does before
// building each frame.
func (s *Stream) step() {
	p := s.setup
	s.src, s.dst = p.SrcIP.next(s.src), p.DstIP.next(s.dst)
	s.sport, s.dport = p.SrcPort.next(s.sport), p.DstPort.next(s.dport)
	s.size = p.Size.next(s.size)
}

// Next returns the next frame (without FCS), valid until the following
// call.
func (s *Stream) Next() []byte {
	if s.built == PoolFrames {
		s.rewind()
	}
	s.built++
	s.step()
	p := s.setup
	n := int(s.size) - fcsLen
	f := s.frame[:n]
	clear(f)
	// Locally administered MACs: port p sends to its peer port p^1
	// through a bump in the wire.
	copy(f[0:6], []byte{2, 0, 0, 0, 0, byte(s.port ^ 1)})
	copy(f[6:12], []byte{2, 0, 0, 0, 0, byte(s.port)})
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[ethLen:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(n-ethLen))
	ip[8] = ipTTL
	ip[9] = p.Proto
	binary.BigEndian.PutUint32(ip[12:], s.src)
	binary.BigEndian.PutUint32(ip[16:], s.dst)
	binary.BigEndian.PutUint16(ip[10:], ^packet.Checksum(ip[:ipv4Len], 0))
	l4 := f[offL4:]
	binary.BigEndian.PutUint16(l4[0:], uint16(s.sport))
	binary.BigEndian.PutUint16(l4[2:], uint16(s.dport))
	sum := offUDPSum
	if p.Proto == packet.ProtoTCP {
		binary.BigEndian.PutUint32(l4[4:], tcpSeq)
		binary.BigEndian.PutUint32(l4[8:], tcpAck)
		l4[12] = tcpLen / 4 << 4
		l4[13] = tcpACK
		binary.BigEndian.PutUint16(l4[14:], tcpWindow)
		sum = offTCPSum
	} else {
		binary.BigEndian.PutUint16(l4[4:], uint16(n-offL4))
	}
	pseudo := uint32(packet.Checksum(f[offIPSrc:offIPSrc+8], 0)) + uint32(p.Proto) + uint32(n-offL4)
	c := ^packet.Checksum(f[offL4:], pseudo)
	if c == 0 && p.Proto == packet.ProtoUDP {
		c = 0xffff // 0 would say "no checksum"
	}
	binary.BigEndian.PutUint16(f[sum:], c)
	return f
}
