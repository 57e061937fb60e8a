package packet

import "encoding/binary"

// TCP4 is what the pipeline's fast path reads of the most common frame:
// an untagged Ethernet frame carrying an unfragmented IPv4 datagram
// without IP options and a whole TCP header. ParseTCP4 fills it straight
// from the frame; anything else goes through ParseWith.
type TCP4 struct {
	Src, Dst         uint32 // addresses as big-endian numbers
	SrcPort, DstPort uint16
	Seq, Ack         uint32
	Window           uint16 // unscaled, as on the wire
	Flags            uint8
	HeaderLen        uint8  // TCP data offset in bytes
	PayloadLen       uint16 // as the IP header states it (padding excluded)
}

// TCP4Off is the offset of the TCP header in a frame ParseTCP4 accepts.
const TCP4Off = EthernetSize + IPv4MinSize

// ParseTCP4 reads frame into s and reports whether it has the fast path's
// shape and passes every check ParseWith makes with opt (for such a frame
// ParseWith returns ReasonNone and the same fields). It reports false for
// any other frame, well-formed or not, without saying why: ParseWith does.
func ParseTCP4(frame []byte, opt Options, s *TCP4) bool {
	if len(frame) < TCP4Off+TCPMinSize {
		return false
	}
	ip := frame[EthernetSize:]
	if binary.BigEndian.Uint16(frame[12:]) != EtherTypeIPv4 || ip[ipv4VersionIHL] != 0x45 ||
		ip[ipv4Protocol] != ProtoTCP ||
		binary.BigEndian.Uint16(ip[ipv4FlagsFrag:])&(IPv4FlagMF|ipv4FragOffsetMask) != 0 {
		return false
	}
	switch opt.IPv4Checksum {
	case ChecksumVerify:
		if headerSum20(ip) != 0xffff {
			return false
		}
	case ChecksumVerifyNonZero:
		if binary.BigEndian.Uint16(ip[ipv4Checksum:]) != 0 && headerSum20(ip) != 0xffff {
			return false
		}
	}
	tl := int(binary.BigEndian.Uint16(ip[ipv4TotalLen:]))
	if tl > len(ip) || tl < IPv4MinSize+TCPMinSize {
		return false
	}
	tcp := ip[IPv4MinSize:tl]
	hl := int(tcp[tcpDataOff]>>4) * 4
	if hl < TCPMinSize || hl > len(tcp) {
		return false
	}
	s.Src = binary.BigEndian.Uint32(ip[ipv4Src:])
	s.Dst = binary.BigEndian.Uint32(ip[ipv4Dst:])
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
