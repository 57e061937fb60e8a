package packet

import "encoding/binary"

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
	ip := frame[EthernetSize:]
	seg := ip[IPv4MinSize:binary.BigEndian.Uint16(ip[ipv4TotalLen:])]
	proto := ip[ipv4Protocol]
	if proto == ProtoUDP && seg[6] == 0 && seg[7] == 0 {
		return true // no checksum
	}
	a := binary.BigEndian.Uint64(ip[ipv4Src:]) // both addresses
	sum := a>>32 + a&0xffffffff + uint64(proto) + uint64(len(seg))
	return Checksum(seg, uint32(sum>>16+sum&0xffff)) == 0xffff
}

// L4ChecksumOK6 is TransportChecksumOK for a frame ParseTCP6 or ParseUDP6
// accepted (a UDP checksum of zero is wrong over IPv6).
func L4ChecksumOK6(frame []byte) bool {
	ip := frame[EthernetSize:]
	seg := ip[IPv6Size : IPv6Size+int(binary.BigEndian.Uint16(ip[ipv6PayloadLen:]))]
	var sum uint64
	for i := ipv6Src; i < ipv6Src+32; i += 8 {
		v := binary.BigEndian.Uint64(ip[i:])
		sum += v>>32 + v&0xffffffff
	}
	sum += uint64(ip[ipv6NextHeader]) + uint64(len(seg))
	return Checksum(seg, uint32(sum>>16+sum&0xffff)) == 0xffff
}
