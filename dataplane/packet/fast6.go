package packet

import "encoding/binary"

// TCP6 is TCP4 for IPv6: what the pipeline's fast path reads of an
// untagged Ethernet frame carrying an IPv6 datagram without extension
// headers, between unicast addresses, and a whole TCP header.
type TCP6 struct {
	Src, Dst         [16]byte
	SrcPort, DstPort uint16
	Seq, Ack         uint32
	Window           uint16 // unscaled, as on the wire
	Flags            uint8
	HeaderLen        uint8  // TCP data offset in bytes
	PayloadLen       uint16 // as the IPv6 header states it, less the TCP header
}

// UDP6 is UDP4 for IPv6 (see TCP6).
type UDP6 struct {
	Src, Dst         [16]byte
	SrcPort, DstPort uint16
}

// L4Off6 is the offset of the transport header in a frame ParseTCP6 or
// ParseUDP6 accepts.
const L4Off6 = EthernetSize + IPv6Size

// fastIPv6 checks what ParseTCP6 and ParseUDP6 need of frame's IPv6
// header, whose next header must be proto, and returns the transport
// bytes (up to the payload length), or nil. Both addresses must begin
// with neither 0x00 nor 0xff: no such address is a martian (ipv6Martian
// refuses loopback and some multicast), and the rest take ParseWith.
// It stays within the compiler's inlining budget (80; max costs less
// than a second comparison), so that it inlines into ParseTCP6 and
// ParseUDP6 wherever they are inlined: a profile's hot edge does not
// reach a call nested in an inlined body.
func fastIPv6(frame []byte, proto uint8) []byte {
	if len(frame) < L4Off6 {
		return nil
	}
	ip := frame[EthernetSize:]
	if binary.BigEndian.Uint16(frame[12:]) != EtherTypeIPv6 || ip[ipv6VersionTC]>>4 != 6 ||
		ip[ipv6NextHeader] != proto ||
		max(ip[ipv6Src]-1, ip[ipv6Dst]-1) >= 0xfe { // 0x00 and 0xff wrap to 0xff and 0xfe
		return nil
	}
	n := IPv6Size + int(binary.BigEndian.Uint16(ip[ipv6PayloadLen:]))
	if n > len(ip) || n > 0xffff {
		return nil
	}
	return ip[IPv6Size:n]
}

// ParseTCP6 is ParseTCP4 for IPv6: it reads frame into s and reports
// whether it has the fast path's shape (see TCP6) and passes every check
// ParseWith makes. It reports false for any other frame, well-formed or
// not, without saying why: ParseWith does.
func ParseTCP6(frame []byte, s *TCP6) bool {
	tcp := fastIPv6(frame, ProtoTCP)
	if len(tcp) < TCPMinSize {
		return false
	}
	hl := int(tcp[tcpDataOff]>>4) * 4
	if hl < TCPMinSize || hl > len(tcp) {
		return false
	}
	ip := frame[EthernetSize:]
	s.Src = [16]byte(ip[ipv6Src : ipv6Src+16])
	s.Dst = [16]byte(ip[ipv6Dst : ipv6Dst+16])
	s.SrcPort = binary.BigEndian.Uint16(tcp[tcpSrcPort:])
	s.DstPort = binary.BigEndian.Uint16(tcp[tcpDstPort:])
	s.Seq = binary.BigEndian.Uint32(tcp[tcpSeq:])
	s.Ack = binary.BigEndian.Uint32(tcp[tcpAck:])
	s.Window = binary.BigEndian.Uint16(tcp[tcpWindow:])
	s.Flags = tcp[tcpFlags]
	s.HeaderLen = uint8(hl)
	s.PayloadLen = uint16(len(tcp) - hl)
	return true
}

// ParseUDP6 is ParseTCP6 for UDP, the UDP length field's check included
// (NewUDP).
func ParseUDP6(frame []byte, s *UDP6) bool {
	udp := fastIPv6(frame, ProtoUDP)
	if len(udp) < UDPSize {
		return false
	}
	if n := int(binary.BigEndian.Uint16(udp[udpLength:])); n < UDPSize || n > len(udp) {
		return false
	}
	ip := frame[EthernetSize:]
	s.Src = [16]byte(ip[ipv6Src : ipv6Src+16])
	s.Dst = [16]byte(ip[ipv6Dst : ipv6Dst+16])
	s.SrcPort = binary.BigEndian.Uint16(udp[udpSrcPort:])
	s.DstPort = binary.BigEndian.Uint16(udp[udpDstPort:])
	return true
}
