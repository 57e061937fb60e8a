package packet

import "encoding/binary"

// Reply sizes: an ICMPv4 error carries at most 576 bytes in all (RFC 1812),
// an ICMPv6 error at most the IPv6 minimum MTU, 1280 (RFC 4443).
const (
	maxICMPv4Error = 576
	maxICMPv6Error = 1280
	replyTTL       = 64
	// minEthernetFrame is the shortest Ethernet frame without its FCS;
	// shorter replies are padded with zeros.
	minEthernetFrame = 60
)

// MaxReplyLen is the largest frame TCPReset or Unreachable writes (link
// header included); buffers of this size always suffice.
const MaxReplyLen = 64 + maxICMPv6Error

// TCPReset writes to buf a frame that answers the TCP segment p with a RST,
// as Linux's REJECT --reject-with tcp-reset does: back to the sender, with
// the segment's acknowledgment number as its sequence number, or, when the
// segment acknowledged nothing, sequence 0 and an ACK of everything it
// carried. It returns nil when no reply is due (p is itself a RST, a
// non-first fragment) or buf is too small. p must come from an Ethernet
// frame: the reply swaps its MAC addresses and keeps its VLAN tags.
func TCPReset(buf []byte, p *Parsed) []byte {
	if p.Tuple.Proto != ProtoTCP || p.TCP.Flags&TCPRst != 0 || p.Fragment.Offset != 0 || p.L4Off == 0 {
		return nil
	}
	b, l4 := replyHeaders(buf, p, ProtoTCP, 20)
	if b == nil {
		return nil
	}
	t := b[l4:]
	binary.BigEndian.PutUint16(t[0:], p.Tuple.DstPort)
	binary.BigEndian.PutUint16(t[2:], p.Tuple.SrcPort)
	if p.TCP.Flags&TCPAck != 0 {
		binary.BigEndian.PutUint32(t[4:], p.TCP.Ack)
		binary.BigEndian.PutUint32(t[8:], 0)
		t[13] = TCPRst
	} else {
		ack := p.TCP.Seq + uint32(p.PayloadLen)
		if p.TCP.Flags&TCPSyn != 0 {
			ack++
		}
		if p.TCP.Flags&TCPFin != 0 {
			ack++
		}
		binary.BigEndian.PutUint32(t[4:], 0)
		binary.BigEndian.PutUint32(t[8:], ack)
		t[13] = TCPRst | TCPAck
	}
	t[12] = 5 << 4
	binary.BigEndian.PutUint16(t[14:], 0) // window
	binary.BigEndian.PutUint16(t[16:], 0)
	binary.BigEndian.PutUint16(t[18:], 0) // urgent pointer
	binary.BigEndian.PutUint16(t[16:], ^Checksum(t[:20], pseudoSum(p, ProtoTCP, 20)))
	return b
}

// Unreachable writes to buf a frame that answers p with an ICMP "port
// unreachable" (ICMPv6 "port unreachable" for IPv6) quoting as much of p's
// IP packet as the error may carry. It returns nil when no error is due:
// p is an ICMP error or a non-first fragment, or buf is too small. p
// must come from an Ethernet frame, as for TCPReset.
func Unreachable(buf []byte, p *Parsed) []byte {
	if p.Fragment.Offset != 0 || p.ICMP.IsError && (p.Tuple.Proto == ProtoICMP || p.Tuple.Proto == ProtoICMPv6) {
		return nil
	}
	ipEnd := int(p.L3Off) + int(p.IPLen)
	if ipEnd > len(p.Frame) {
		ipEnd = len(p.Frame)
	}
	quote := p.Frame[p.L3Off:ipEnd]
	proto, ipHdr, limit := ProtoICMP, 20, maxICMPv4Error
	if p.Tuple.Family == FamilyIPv6 {
		proto, ipHdr, limit = ProtoICMPv6, 40, maxICMPv6Error
	}
	if room := limit - ipHdr - 8; len(quote) > room {
		quote = quote[:room]
	}
	b, l4 := replyHeaders(buf, p, proto, 8+len(quote))
	if b == nil {
		return nil
	}
	m := b[l4:]
	if proto == ProtoICMP {
		m[0], m[1] = 3, 3 // destination unreachable, port unreachable
	} else {
		m[0], m[1] = 1, 4 // destination unreachable, port unreachable
	}
	binary.BigEndian.PutUint16(m[2:], 0)
	binary.BigEndian.PutUint32(m[4:], 0)
	copy(m[8:], quote)
	initial := uint32(0)
	if proto == ProtoICMPv6 {
		initial = pseudoSum(p, proto, 8+len(quote))
	}
	binary.BigEndian.PutUint16(m[2:], ^Checksum(m[:8+len(quote)], initial))
	return b
}

// replyHeaders writes the link and IP headers of a reply to p carrying
// l4Len bytes of protocol proto, and returns the frame and the offset of
// its transport header.
func replyHeaders(buf []byte, p *Parsed, proto uint8, l4Len int) ([]byte, int) {
	if p.L3Off < 14 || len(p.Frame) < int(p.L3Off) {
		return nil, 0
	}
	ipHdr := 20
	if p.Tuple.Family == FamilyIPv6 {
		ipHdr = 40
	}
	l3 := int(p.L3Off)
	total := l3 + ipHdr + l4Len
	if len(buf) < total {
		return nil, 0
	}
	frameLen := max(total, minEthernetFrame)
	if len(buf) < frameLen {
		return nil, 0
	}
	b := buf[:frameLen]
	clear(b[total:])      // padding to Ethernet's minimum
	copy(b, p.Frame[:l3]) // Ethernet header and VLAN tags, then swap the MACs
	copy(b[0:6], p.Frame[6:12])
	copy(b[6:12], p.Frame[0:6])
	ip := b[l3:]
	if p.Tuple.Family == FamilyIPv6 {
		binary.BigEndian.PutUint32(ip[0:], 6<<28)
		binary.BigEndian.PutUint16(ip[4:], uint16(l4Len))
		ip[6], ip[7] = proto, replyTTL
		copy(ip[8:24], p.Tuple.Dst[:])
		copy(ip[24:40], p.Tuple.Src[:])
		return b, l3 + ipHdr
	}
	ip[0], ip[1] = 0x45, 0
	binary.BigEndian.PutUint16(ip[2:], uint16(ipHdr+l4Len))
	binary.BigEndian.PutUint32(ip[4:], 0) // id, flags, fragment offset
	ip[8], ip[9] = replyTTL, proto
	binary.BigEndian.PutUint16(ip[10:], 0)
	copy(ip[12:16], p.Tuple.Dst[:4])
	copy(ip[16:20], p.Tuple.Src[:4])
	binary.BigEndian.PutUint16(ip[10:], ^Checksum(ip[:20], 0))
	return b, l3 + ipHdr
}

// pseudoSum is the ones'-complement sum of the reply's pseudo-header (the
// reply runs from p's destination back to its source).
func pseudoSum(p *Parsed, proto uint8, length int) uint32 {
	n := 4
	if p.Tuple.Family == FamilyIPv6 {
		n = 16
	}
	sum := uint32(Checksum(p.Tuple.Dst[:n], 0)) + uint32(Checksum(p.Tuple.Src[:n], 0))
	return sum + uint32(proto) + uint32(length)
}
