package packet

import "encoding/binary"

// ICMP and ICMPv6 header layout (RFC 792, RFC 4443); queries carry an
// identifier and sequence number, errors the quoted packet after byte 8:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     Type      |     Code      |          Checksum             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|           Identifier          |        Sequence Number        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     quoted IP header + at least 8 bytes of its payload ...    |
const (
	icmpType     = 0
	icmpCode     = 1
	icmpChecksum = 2
	icmpID       = 4
	icmpSeq      = 6
	ICMPSize     = 8 // bytes in an ICMP/ICMPv6 header (as Linux reads it)
)

// ICMP (IPv4) message types.
const (
	ICMPEchoReply      uint8 = 0
	ICMPDestUnreach    uint8 = 3
	ICMPSourceQuench   uint8 = 4
	ICMPRedirect       uint8 = 5
	ICMPEcho           uint8 = 8
	ICMPTimeExceeded   uint8 = 11
	ICMPParamProblem   uint8 = 12
	ICMPTimestamp      uint8 = 13
	ICMPTimestampReply uint8 = 14
	ICMPInfoRequest    uint8 = 15
	ICMPInfoReply      uint8 = 16
	ICMPAddrMask       uint8 = 17
	ICMPAddrMaskReply  uint8 = 18
)

// ICMPv6 message types.
const (
	ICMPv6DestUnreach  uint8 = 1
	ICMPv6PacketTooBig uint8 = 2
	ICMPv6TimeExceeded uint8 = 3
	ICMPv6ParamProblem uint8 = 4
	ICMPv6EchoRequest  uint8 = 128
	ICMPv6EchoReply    uint8 = 129
	ICMPv6NIQuery      uint8 = 139
	ICMPv6NIReply      uint8 = 140
)

// ICMP is a view of an ICMP or ICMPv6 header and its body.
type ICMP []byte

// NewICMP checks that b holds the 8-byte header Linux conntrack reads
// (fewer is ReasonICMPTruncated) and returns its view.
func NewICMP(b []byte) (ICMP, DropReason) {
	if len(b) < ICMPSize {
		return nil, ReasonICMPTruncated
	}
	return ICMP(b), ReasonNone
}

// Type returns the message type.
func (b ICMP) Type() uint8 { return b[icmpType] }

// Code returns the message code.
func (b ICMP) Code() uint8 { return b[icmpCode] }

// Checksum returns the checksum field.
func (b ICMP) Checksum() uint16 { return binary.BigEndian.Uint16(b[icmpChecksum:]) }

// ID returns the identifier of a query or reply.
func (b ICMP) ID() uint16 { return binary.BigEndian.Uint16(b[icmpID:]) }

// Seq returns the sequence number of a query or reply.
func (b ICMP) Seq() uint16 { return binary.BigEndian.Uint16(b[icmpSeq:]) }

// Body returns what follows the 8-byte header (the quoted packet of an error).
func (b ICMP) Body() []byte { return b[ICMPSize:] }

// ICMPIsError reports whether an ICMP type is an error that quotes a
// packet (Linux's icmp_is_err).
func ICMPIsError(t uint8) bool {
	switch t {
	case ICMPDestUnreach, ICMPSourceQuench, ICMPRedirect, ICMPTimeExceeded, ICMPParamProblem:
		return true
	}
	return false
}

// ICMPHasID reports whether an ICMP type is a query or reply keyed by its
// identifier (echo, timestamp, information, address mask).
func ICMPHasID(t uint8) bool {
	switch t {
	case ICMPEchoReply, ICMPEcho, ICMPTimestamp, ICMPTimestampReply,
		ICMPInfoRequest, ICMPInfoReply, ICMPAddrMask, ICMPAddrMaskReply:
		return true
	}
	return false
}

// ICMPv6IsError reports whether an ICMPv6 type is an error (below 128).
func ICMPv6IsError(t uint8) bool { return t < 128 }

// ICMPv6HasID reports whether an ICMPv6 type is a query or reply keyed by
// its identifier (echo, node information).
func ICMPv6HasID(t uint8) bool {
	switch t {
	case ICMPv6EchoRequest, ICMPv6EchoReply, ICMPv6NIQuery, ICMPv6NIReply:
		return true
	}
	return false
}

// parseICMPInner reads the packet quoted by an ICMP (v4 when family is
// FamilyIPv4) error into info, as Linux's nf_ct_get_tuplepr does on the
// quoted bytes: the quoted IP header must be whole (its length fields are
// not checked against the quote, which routers cut short), must not be a
// non-first fragment, and must be followed by the ports (4 bytes) of TCP
// or UDP or the 8-byte header of ICMP/ICMPv6. InnerTCPSeq is filled when
// the quote holds it.
func parseICMPInner(q []byte, family Family, info *ICMPInfo) {
	var l4 []byte
	var proto uint8
	in := &info.Inner
	if family == FamilyIPv4 {
		if len(q) < IPv4MinSize {
			info.InnerReason = ReasonICMPInnerTruncated
			return
		}
		ip := IPv4(q)
		hl := ip.HeaderLen()
		if ip.Version() != 4 || hl < IPv4MinSize {
			info.InnerReason = ReasonICMPInnerBad
			return
		}
		if ip.FragmentOffset() != 0 {
			info.InnerReason = ReasonICMPInnerBad
			return
		}
		if hl > len(q) {
			info.InnerReason = ReasonICMPInnerTruncated
			return
		}
		s, d := ip.Source(), ip.Destination()
		copy(in.Src[:], s[:])
		copy(in.Dst[:], d[:])
		proto = ip.Protocol()
		l4 = q[hl:]
	} else {
		if len(q) < IPv6Size {
			info.InnerReason = ReasonICMPInnerTruncated
			return
		}
		ip := IPv6(q)
		if ip.Version() != 6 {
			info.InnerReason = ReasonICMPInnerBad
			return
		}
		c, r := ip.WalkExt()
		switch {
		case r == ReasonIPv6ExtTruncated:
			info.InnerReason = ReasonICMPInnerTruncated
			return
		case r != ReasonNone, c.Proto == IPv6NoNext:
			info.InnerReason = ReasonICMPInnerBad
			return
		case c.FragOff != 0 && IPv6Frag(q[c.FragOff:]).Offset() != 0:
			info.InnerReason = ReasonICMPInnerBad
			return
		}
		in.Src, in.Dst = ip.Source(), ip.Destination()
		proto = c.Proto
		l4 = q[c.Off:]
	}
	in.Proto, in.Family = proto, family
	switch proto {
	case ProtoTCP, ProtoUDP:
		if len(l4) < 4 {
			info.InnerReason = ReasonICMPInnerTruncated
			return
		}
		in.SrcPort = binary.BigEndian.Uint16(l4[0:])
		in.DstPort = binary.BigEndian.Uint16(l4[2:])
		if proto == ProtoTCP && len(l4) >= tcpSeq+4 {
			info.InnerTCPSeq = binary.BigEndian.Uint32(l4[tcpSeq:])
		}
	case ProtoICMP, ProtoICMPv6:
		if len(l4) < ICMPSize {
			info.InnerReason = ReasonICMPInnerTruncated
			return
		}
		t := ICMP(l4)
		info.InnerICMPType = t.Type()
		if (proto == ProtoICMP && ICMPHasID(t.Type())) || (proto == ProtoICMPv6 && ICMPv6HasID(t.Type())) {
			in.SrcPort, in.DstPort = t.ID(), t.ID()
		}
	}
	info.InnerOK = true
}
