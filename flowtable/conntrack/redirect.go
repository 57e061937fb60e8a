package conntrack

import (
	"encoding/binary"

	"github.com/statewall/statewall/dataplane/packet"
)

// ICMPv6 redirect layout (RFC 4861 4.5): the ICMPv6 header (8 bytes, the
// last 4 reserved), the target and destination addresses, then options;
// the redirected-header option (type 4) has an 8-byte header before the
// quoted packet.
const (
	ndRedirect        = 137
	ndRedirectMsgSize = 8 + 16 + 16
	ndOptRedirectHdr  = 4
	ndOptHdrSize      = 8
)

// ndRedirectQuote reads the packet an ICMPv6 redirect quotes, as Linux's
// nf_conntrack_icmpv6_redirect does. It returns whether the redirect is
// handled as an error (ok) and, if not, whether it is INVALID (bad) or
// left to ordinary tracking (neither). On ok, in holds the quoted tuple.
func ndRedirectQuote(p *packet.Parsed, in *packet.Tuple) (ok bool, bad packet.DropReason) {
	off := int(p.L4Off)
	end := int(p.L3Off) + int(p.IPLen)
	if end > len(p.Frame) {
		end = len(p.Frame)
	}
	if off == 0 || off+ndRedirectMsgSize > end {
		return false, packet.ReasonICMPTruncated
	}
	if p.ICMP.Code != 0 {
		return false, packet.ReasonNone
	}
	if p.TTL != 255 || p.Tuple.Src[0] != 0xfe || p.Tuple.Src[1]&0xc0 != 0x80 {
		// Only a neighbour's router, link-local and one hop away, redirects.
		return false, packet.ReasonBadAddress
	}
	off += ndRedirectMsgSize
	if off+2 > end || p.Frame[off+1] == 0 {
		return false, packet.ReasonICMPInnerTruncated
	}
	if p.Frame[off] != ndOptRedirectHdr {
		return false, packet.ReasonNone
	}
	q := p.Frame[off+ndOptHdrSize : end]
	if off+ndOptHdrSize > end {
		return false, packet.ReasonICMPInnerTruncated
	}
	ip, r := packet.NewIPv6(q)
	if r != packet.ReasonNone || len(q) < packet.IPv6Size {
		return false, packet.ReasonICMPInnerTruncated
	}
	c, r := ip.WalkExt()
	if r != packet.ReasonNone {
		return false, packet.ReasonICMPInnerBad
	}
	*in = packet.Tuple{Src: ip.Source(), Dst: ip.Destination(), Proto: c.Proto, Family: packet.FamilyIPv6}
	l4 := q[min(c.Off, len(q)):]
	switch c.Proto {
	case packet.ProtoTCP, packet.ProtoUDP:
		if len(l4) < 4 {
			return false, packet.ReasonICMPInnerTruncated
		}
		in.SrcPort, in.DstPort = binary.BigEndian.Uint16(l4), binary.BigEndian.Uint16(l4[2:])
	case packet.ProtoICMPv6:
		if len(l4) < 8 {
			return false, packet.ReasonICMPInnerTruncated
		}
		if role := icmpRoleOf(packet.ProtoICMPv6, l4[0]); role != icmpRequest && role != icmpReply {
			return false, packet.ReasonICMPNoFlow
		}
		id := binary.BigEndian.Uint16(l4[4:])
		in.SrcPort, in.DstPort = id, id
	}
	return true, packet.ReasonNone
}
