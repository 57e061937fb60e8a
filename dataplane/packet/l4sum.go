package packet

import (
	"encoding/binary"
	"math/bits"
)

// TransportChecksumOK verifies the TCP, UDP, ICMP or ICMPv6 checksum of a
// parsed, unfragmented packet, as Linux's conntrack does with
// nf_conntrack_checksum: a UDP checksum of zero over IPv4 means "none" and
// passes. Other protocols, fragments and packets whose transport header
// was not read pass.
func TransportChecksumOK(p *Parsed) bool {
	t := &p.Tuple
	if p.Fragment.Is || p.L4Off == 0 {
		return true
	}
	end := int(p.PayloadOff) + int(p.PayloadLen)
	if end > len(p.Frame) || int(p.L4Off) > end {
		return true
	}
	seg := p.Frame[p.L4Off:end]
	var initial uint32
	switch t.Proto {
	case ProtoTCP, ProtoUDP, ProtoICMPv6:
		if t.Proto == ProtoUDP && t.Family == FamilyIPv4 && len(seg) >= 8 && seg[6] == 0 && seg[7] == 0 {
			return true
		}
		n := 4
		if t.Family == FamilyIPv6 {
			n = 16
		}
		initial = uint32(Checksum(t.Src[:n], 0)) + uint32(Checksum(t.Dst[:n], 0)) + uint32(t.Proto) + uint32(len(seg))
	case ProtoICMP:
	default:
		return true
	}
	return Checksum(seg, initial) == 0xffff
}

// L4ChecksumOK4 is TransportChecksumOK for a frame ParseTCP4 or ParseUDP4
// accepted, read from the frame itself (the fast path has no Parsed).
func L4ChecksumOK4(frame []byte) bool {
	if len(frame) < TCP4Off+UDPSize {
		return false // not such a frame (and no bounds checks below)
	}
	ip := frame[EthernetSize:]
	tl := int(binary.BigEndian.Uint16(ip[ipv4TotalLen:]))
	if tl < IPv4MinSize+UDPSize || tl > len(ip) {
		return false
	}
	seg := ip[IPv4MinSize:tl]
	proto := ip[ipv4Protocol]
	if proto == ProtoUDP && seg[6] == 0 && seg[7] == 0 {
		return true // no checksum
	}
	// The pseudo-header: both addresses, the protocol and the length,
	// as little-endian words (see sumLE).
	acc := sumLE(seg, binary.LittleEndian.Uint64(ip[ipv4Src:]))
	return foldLE(acc, uint64(proto)<<8+uint64(bits.ReverseBytes16(uint16(len(seg))))) == 0xffff
}

// L4ChecksumOK6 is TransportChecksumOK for a frame ParseTCP6 or ParseUDP6
// accepted (a UDP checksum of zero is wrong over IPv6).
func L4ChecksumOK6(frame []byte) bool {
	if len(frame) < L4Off6+UDPSize {
		return false
	}
	ip := frame[EthernetSize:]
	n := IPv6Size + int(binary.BigEndian.Uint16(ip[ipv6PayloadLen:]))
	if n > len(ip) {
		return false
	}
	seg := ip[IPv6Size:n]
	acc := sumLE(ip[ipv6Src:ipv6Src+32], 0)
	acc = sumLE(seg, acc)
	return foldLE(acc, uint64(ip[ipv6NextHeader])<<8+uint64(bits.ReverseBytes16(uint16(len(seg))))) == 0xffff
}

// sumLE adds b to the ones'-complement accumulator acc, eight bytes at a
// time read little-endian, with end-around carry. By RFC 1071's byte-order
// independence the folded result is the big-endian sum byte-swapped, so a
// correct checksum folds to 0xffff either way (and the pseudo-header's
// 16-bit fields go in swapped).
func sumLE(b []byte, acc uint64) uint64 {
	var c uint64
	for len(b) >= 32 {
		acc, c = bits.Add64(acc, binary.LittleEndian.Uint64(b[0:8]), c)
		acc, c = bits.Add64(acc, binary.LittleEndian.Uint64(b[8:16]), c)
		acc, c = bits.Add64(acc, binary.LittleEndian.Uint64(b[16:24]), c)
		acc, c = bits.Add64(acc, binary.LittleEndian.Uint64(b[24:32]), c)
		b = b[32:]
	}
	for len(b) >= 8 {
		acc, c = bits.Add64(acc, binary.LittleEndian.Uint64(b), c)
		b = b[8:]
	}
	// The last 0-7 bytes, zero-padded, where a word would hold them.
	var t uint64
	shift := uint(0)
	if len(b) >= 4 {
		t, b, shift = uint64(binary.LittleEndian.Uint32(b)), b[4:], 32
	}
	if len(b) >= 2 {
		t |= uint64(binary.LittleEndian.Uint16(b)) << shift
		b, shift = b[2:], shift+16
	}
	if len(b) == 1 {
		t |= uint64(b[0]) << shift
	}
	acc, c = bits.Add64(acc, t, c)
	acc, c = bits.Add64(acc, c, 0)
	return acc + c
}

// foldLE adds x (less than 2^32) to the accumulator sumLE returned and
// folds it to 16 bits.
func foldLE(acc, x uint64) uint16 {
	s := acc>>32 + acc&0xffffffff + x // < 2^34
	s = s>>16 + s&0xffff              // < 2^19
	s = s>>16 + s&0xffff              // <= 0x10006
	s = s>>16 + s&0xffff
	return uint16(s)
}
