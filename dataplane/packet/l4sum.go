package packet

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
