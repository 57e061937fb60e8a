package packet

import "encoding/binary"

// ChecksumPolicy says whether Parse verifies the IPv4 header checksum.
type ChecksumPolicy uint8

// IPv4 header checksum policies.
const (
	// ChecksumIgnore does not verify (the default: Linux conntrack runs
	// with nf_conntrack_checksum=0 in the answer key, and captures often
	// hold offloaded, zero checksums).
	ChecksumIgnore ChecksumPolicy = iota
	// ChecksumVerify drops every wrong checksum, as Linux's ip_rcv does.
	ChecksumVerify
	// ChecksumVerifyNonZero drops wrong checksums except 0, which it takes
	// for a transmit offload that never filled the field: this is what
	// the answer key saw (zero checksums were recomputed before injection).
	ChecksumVerifyNonZero
)

// String returns the policy's name.
func (c ChecksumPolicy) String() string {
	switch c {
	case ChecksumIgnore:
		return "ignore"
	case ChecksumVerify:
		return "verify"
	case ChecksumVerifyNonZero:
		return "verify-nonzero"
	}
	return "unknown"
}

// Options tune Parse; the zero value is the default.
type Options struct {
	IPv4Checksum ChecksumPolicy
	// IPv4Options makes malformed IPv4 options a parse failure
	// (ReasonIPv4BadOptions). Linux checks options in ip_rcv_finish, after
	// the PREROUTING hook where conntrack has already classified the
	// packet, then drops it; off by default so that the conntrack verdict
	// matches Linux's.
	IPv4Options bool
	// Loopback says the frames arrived on a loopback interface, where
	// Linux takes the loopback address and interface-local multicast
	// (replay: the answer key injected captures of ::1 traffic on lo).
	// Off, they are dropped before netfilter, as on any other interface.
	Loopback bool
}

// maxTransportHeader is the longest transport header (TCP with options).
const maxTransportHeader = 60

// MaxVLANTags is the number of stacked VLAN tags Parse walks; a frame with
// more is not IP to it (ReasonNotIP).
const MaxVLANTags = 8

// Parse reads frame, framed as link, into p with the default Options. See
// ParseWith.
func Parse(frame []byte, link LinkType, p *Parsed) DropReason {
	return ParseWith(frame, link, Options{}, p)
}

// ParseWith reads frame, framed as link, into p, overwriting every field,
// and returns ReasonNone or why the frame cannot be tracked. It never
// allocates and never panics. Reasons up to ReasonBadAddress are parse
// failures; IPLayerDrop tells those Linux refuses before conntrack from
// those conntrack calls INVALID.
//
// A non-IP frame returns ReasonNotIP with Family 0. Fragments set
// p.Fragment; a non-first fragment has no transport header (L4Off 0, the
// payload is the fragment data); a first fragment's transport header is
// read as far as it is present (an IPv4 first fragment may be tiny; an
// IPv6 first fragment must hold the transport header's fixed part, as
// Linux's RFC 8200 check demands, else its transport reason is returned).
// A UDP length field is not checked against a fragment.
func ParseWith(frame []byte, link LinkType, opt Options, p *Parsed) DropReason {
	*p = Parsed{Frame: frame}
	l3, et, r := parseLink(frame, link, p)
	if r != ReasonNone {
		return r
	}
	if l3 > len(frame) { // cannot happen: parseLink checks; keeps slicing safe
		return ReasonRuntFrame
	}
	p.L3Off = uint16(l3)
	switch et {
	case EtherTypeIPv4:
		return parseIPv4(frame, l3, opt, p)
	case EtherTypeIPv6:
		return parseIPv6(frame, l3, opt, p)
	}
	return ReasonNotIP
}

// parseLink strips the link header and VLAN tags and returns the offset
// of the network header and its EtherType (0 when not IP).
func parseLink(frame []byte, link LinkType, p *Parsed) (off int, et uint16, r DropReason) {
	switch link {
	case LinkEthernet:
		e, r := NewEthernet(frame)
		if r != ReasonNone {
			return 0, 0, r
		}
		return walkVLAN(frame, EthernetSize, e.Type(), p)
	case LinkLinuxSLL:
		if len(frame) < SLLSize {
			return 0, 0, ReasonRuntFrame
		}
		return walkVLAN(frame, SLLSize, binary.BigEndian.Uint16(frame[sllProtocol:]), p)
	case LinkLinuxSLL2:
		if len(frame) < SLL2Size {
			return 0, 0, ReasonRuntFrame
		}
		return walkVLAN(frame, SLL2Size, binary.BigEndian.Uint16(frame[sll2Protocol:]), p)
	case LinkNull, LinkLoop:
		if len(frame) < NullSize {
			return 0, 0, ReasonRuntFrame
		}
		var af uint32
		if link == LinkNull {
			af = nullHostFamily(frame)
		} else {
			af = binary.BigEndian.Uint32(frame)
		}
		return NullSize, nullFamily(af), ReasonNone
	case LinkRawIP:
		if len(frame) == 0 {
			return 0, 0, ReasonRuntFrame
		}
		switch frame[0] >> 4 {
		case 4:
			return 0, EtherTypeIPv4, ReasonNone
		case 6:
			return 0, EtherTypeIPv6, ReasonNone
		}
		return 0, 0, ReasonIPv4BadVersion
	case LinkIPv4:
		return 0, EtherTypeIPv4, ReasonNone
	case LinkIPv6:
		return 0, EtherTypeIPv6, ReasonNone
	}
	return 0, 0, ReasonNotIP
}

// walkVLAN steps over VLAN tags starting at off, where et is the EtherType
// (or TPID) just read, recording the tag ids in p.
func walkVLAN(frame []byte, off int, et uint16, p *Parsed) (int, uint16, DropReason) {
	for IsVLANTPID(et) {
		if p.VLANs == MaxVLANTags {
			p.EthType = et
			return off, 0, ReasonNotIP
		}
		v, r := NewVLAN(frame[off:])
		if r != ReasonNone {
			return off, 0, r
		}
		if p.VLANs < uint8(len(p.VLAN)) {
			p.VLAN[p.VLANs] = v.ID()
		}
		p.VLANs++
		et = v.Type()
		off += VLANSize
	}
	p.EthType = et
	return off, et, ReasonNone
}

// parseIPv4 reads the IPv4 header at l3 and what follows.
func parseIPv4(frame []byte, l3 int, opt Options, p *Parsed) DropReason {
	ip, r := newIPv4(frame[l3:], opt.IPv4Checksum)
	if r != ReasonNone {
		return r
	}
	if opt.IPv4Options && !ip.OptionsValid() {
		return ReasonIPv4BadOptions
	}
	t := &p.Tuple
	t.Family = FamilyIPv4
	s, d := ip.Source(), ip.Destination()
	copy(t.Src[:], s[:])
	copy(t.Dst[:], d[:])
	t.Proto = ip.Protocol()
	p.TTL = ip.TTL()
	p.IPLen = uint16(len(ip))
	hl := ip.HeaderLen()
	if ip.IsFragment() {
		f := &p.Fragment
		f.Is, f.More, f.Offset, f.ID = true, ip.More(), ip.FragmentOffset(), uint32(ip.ID())
		p.FragDataOff = uint16(l3 + hl)
		if f.Offset != 0 {
			p.PayloadOff, p.PayloadLen = p.FragDataOff, uint16(len(ip)-hl)
			return ReasonNone
		}
	}
	return parseTransport(frame, l3+hl, l3+len(ip), p)
}

// ipv6Martian reports whether ipv6_rcv drops a packet from src to dst
// before netfilter (RFC 4291): a multicast source or a multicast
// destination of scope 0 (reserved) always, and unless it arrived on a
// loopback interface (lo), the loopback address as source or destination
// or an interface-local (scope 1) multicast destination.
func ipv6Martian(src, dst *[16]byte, lo bool) bool {
	if src[0] == 0xff || (dst[0] == 0xff && dst[1]&0x0f == 0) {
		return true
	}
	loopback := [16]byte{15: 1}
	return !lo && (*src == loopback || *dst == loopback || (dst[0] == 0xff && dst[1]&0x0f == 1))
}

// parseIPv6 reads the IPv6 header at l3, its extension headers and what
// follows.
func parseIPv6(frame []byte, l3 int, opt Options, p *Parsed) DropReason {
	ip, r := NewIPv6(frame[l3:])
	if r != ReasonNone {
		return r
	}
	t := &p.Tuple
	t.Family = FamilyIPv6
	t.Src, t.Dst = ip.Source(), ip.Destination()
	p.TTL = ip.HopLimit()
	if len(ip) > 0xffff {
		// 40 + payload length can exceed 16 bits; such a datagram is
		// legal (Linux takes it) but its length does not fit IPLen:
		// refuse it rather than report a wrong length.
		return ReasonIPv6BadLength
	}
	p.IPLen = uint16(len(ip))
	if ipv6Martian(&t.Src, &t.Dst, opt.Loopback) {
		return ReasonBadAddress
	}
	if !ip.HopOptsValid() {
		return ReasonIPv6BadHopOpts
	}
	c, r := ip.WalkExt()
	if r != ReasonNone {
		return r
	}
	t.Proto = c.Proto
	end := l3 + len(ip)
	if l3+c.Off > 0xffff-maxTransportHeader {
		// Extension headers so long that the transport header's offsets
		// would not fit 16 bits: abuse.
		return ReasonIPv6ExtLoop
	}
	if c.Proto == IPv6NoNext && c.FragOff == 0 {
		// conntrack's ipv6_skip_exthdr gives up at No Next Header: no
		// transport, INVALID (a fragment's is found after reassembly).
		return ReasonIPv6NoNextHeader
	}
	if c.FragOff != 0 {
		fh := IPv6Frag(ip[c.FragOff:])
		f := &p.Fragment
		f.Is, f.More, f.Offset, f.ID = true, fh.More(), fh.Offset(), fh.ID()
		p.FragDataOff = uint16(l3 + c.FragOff + IPv6FragmentSize)
		if int(f.Offset)+end-int(p.FragDataOff) > 0xffff {
			// Linux's nf_ct_frag6_queue refuses a fragment that ends
			// beyond the largest payload.
			return ReasonBadFragment
		}
		if f.Offset != 0 {
			p.PayloadOff, p.PayloadLen = uint16(l3+c.Off), uint16(len(ip)-c.Off)
			return ReasonNone
		}
	}
	return parseTransport(frame, l3+c.Off, end, p)
}

// parseTransport reads the transport header at off (its bytes end at the
// IP datagram's end) into p. p.Tuple.Proto and Family are set; for a first
// fragment the header may be cut short.
func parseTransport(frame []byte, off, end int, p *Parsed) DropReason {
	l4 := frame[off:end]
	t := &p.Tuple
	p.L4Off = uint16(off)
	p.PayloadOff, p.PayloadLen = 0, 0
	frag := p.Fragment.Is
	if frag && t.Family == FamilyIPv4 {
		// An IPv4 first fragment goes to reassembly whatever it holds;
		// read what is there.
		return parseFirstFragment(l4, off, p)
	}
	switch t.Proto {
	case ProtoTCP:
		tcp, r := NewTCP(l4)
		if r == ReasonTCPBadOffset && frag && tcp == nil && len(l4) >= TCPMinSize {
			// The options run into the next fragment: legal.
			return parseFirstFragment(l4, off, p)
		}
		if r != ReasonNone {
			return r
		}
		t.SrcPort, t.DstPort = tcp.SourcePort(), tcp.DestinationPort()
		readTCP(tcp, tcp.HeaderLen(), &p.TCP)
		p.PayloadOff, p.PayloadLen = uint16(off+tcp.HeaderLen()), uint16(len(l4)-tcp.HeaderLen())
	case ProtoUDP:
		if frag {
			return parseFirstFragment(l4, off, p)
		}
		udp, r := NewUDP(l4)
		if r != ReasonNone {
			if len(l4) >= UDPSize {
				p.UDPLen = UDP(l4).Length()
			}
			return r
		}
		t.SrcPort, t.DstPort = udp.SourcePort(), udp.DestinationPort()
		p.UDPLen = udp.Length()
		p.PayloadOff, p.PayloadLen = uint16(off+UDPSize), uint16(len(l4)-UDPSize)
	case ProtoICMP, ProtoICMPv6:
		if (t.Proto == ProtoICMP) != (t.Family == FamilyIPv4) {
			// ICMP over IPv6 or ICMPv6 over IPv4: a generic protocol.
			p.PayloadOff, p.PayloadLen = uint16(off), uint16(len(l4))
			return ReasonNone
		}
		ic, r := NewICMP(l4)
		if r != ReasonNone {
			return r
		}
		readICMP(ic, t, &p.ICMP, !frag)
		p.PayloadOff, p.PayloadLen = uint16(off+ICMPSize), uint16(len(l4)-ICMPSize)
	default:
		p.PayloadOff, p.PayloadLen = uint16(off), uint16(len(l4))
	}
	return ReasonNone
}

// parseFirstFragment reads what a first fragment holds of its transport
// header: ports when 4 bytes are there, TCP fields when the whole header
// is, ICMP fields when 8 bytes are. An IPv6 first fragment must hold the
// fixed part of TCP, UDP or ICMPv6 headers (checked by the caller for
// TCP; here for UDP and ICMPv6).
func parseFirstFragment(l4 []byte, off int, p *Parsed) DropReason {
	t := &p.Tuple
	v6 := t.Family == FamilyIPv6
	switch t.Proto {
	case ProtoTCP, ProtoUDP:
		if v6 && t.Proto == ProtoUDP && len(l4) < UDPSize {
			return ReasonUDPTruncated
		}
		if len(l4) >= 4 {
			t.SrcPort = binary.BigEndian.Uint16(l4[0:])
			t.DstPort = binary.BigEndian.Uint16(l4[2:])
		}
		hl := 0
		switch {
		case t.Proto == ProtoUDP && len(l4) >= UDPSize:
			p.UDPLen = UDP(l4).Length()
			hl = UDPSize
		case t.Proto == ProtoTCP && len(l4) >= TCPMinSize:
			hl = TCP(l4).HeaderLen()
			if hl < TCPMinSize {
				return ReasonTCPBadOffset
			}
			readTCP(TCP(l4), min(hl, len(l4)), &p.TCP)
		}
		if hl != 0 && hl <= len(l4) {
			p.PayloadOff, p.PayloadLen = uint16(off+hl), uint16(len(l4)-hl)
		}
	case ProtoICMP, ProtoICMPv6:
		if len(l4) < ICMPSize {
			if v6 {
				return ReasonICMPTruncated
			}
			return ReasonNone
		}
		readICMP(ICMP(l4), t, &p.ICMP, false)
		p.PayloadOff, p.PayloadLen = uint16(off+ICMPSize), uint16(len(l4)-ICMPSize)
	default:
		p.PayloadOff, p.PayloadLen = uint16(off), uint16(len(l4))
	}
	return ReasonNone
}

// readTCP copies the TCP fields and the options within the first hl bytes.
func readTCP(tcp TCP, hl int, info *TCPInfo) {
	info.Seq, info.Ack = tcp.Seq(), tcp.Ack()
	info.Window, info.Flags = tcp.Window(), tcp.Flags()
	info.HeaderLen = uint8(tcp.HeaderLen())
	ParseTCPOptions(tcp[TCPMinSize:hl], info)
}

// readICMP copies the ICMP fields; for an error it reads the quoted packet
// when inner is set (a fragment's quote is incomplete until reassembly).
func readICMP(ic ICMP, t *Tuple, info *ICMPInfo, inner bool) {
	info.Type, info.Code = ic.Type(), ic.Code()
	var isErr, hasID bool
	if t.Proto == ProtoICMP {
		isErr, hasID = ICMPIsError(info.Type), ICMPHasID(info.Type)
	} else {
		isErr, hasID = ICMPv6IsError(info.Type), ICMPv6HasID(info.Type)
	}
	if hasID {
		info.ID = ic.ID()
		t.SrcPort, t.DstPort = info.ID, info.ID
	}
	info.IsError = isErr
	if isErr {
		if !inner {
			info.InnerReason = ReasonICMPInnerTruncated
			return
		}
		parseICMPInner(ic.Body(), t.Family, info)
	}
}
