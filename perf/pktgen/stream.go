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

// Stream makes the frames one tester port sends, in pktgen's order.
type Stream struct {
	setup                        *PortSetup
	port                         int
	src, dst, sport, dport, size uint32
	frame                        [1518]byte
}

// Stream returns the frames port p sends with this setup.
func (p *PortSetup) Stream(port int) *Stream {
	return &Stream{setup: p, port: port, src: p.SrcIP.Start, dst: p.DstIP.Start,
		sport: p.SrcPort.Start, dport: p.DstPort.Start, size: p.Size.Start}
}

// Next returns the next frame (without FCS), valid until the following
// call, and steps every field of the range.
func (s *Stream) Next() []byte {
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

	s.src, s.dst = p.SrcIP.next(s.src), p.DstIP.next(s.dst)
	s.sport, s.dport = p.SrcPort.next(s.sport), p.DstPort.next(s.dport)
	s.size = p.Size.next(s.size)
	return f
}
