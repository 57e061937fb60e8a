package packet

import "encoding/binary"

// IPv6 header layout (RFC 8200):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|Version| Traffic Class |           Flow Label                  |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|         Payload Length        |  Next Header  |   Hop Limit   |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    Source Address (16)                        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                  Destination Address (16)                     |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
const (
	ipv6VersionTC  = 0
	ipv6PayloadLen = 4
	ipv6NextHeader = 6
	ipv6HopLimit   = 7
	ipv6Src        = 8
	ipv6Dst        = 24
	IPv6Size       = 40 // bytes in the fixed IPv6 header
)

// IPv6 next-header values of extension headers and of headers that end
// the extension-header walk.
const (
	IPv6HopByHop   uint8 = 0
	IPv6Routing    uint8 = 43
	IPv6Fragment   uint8 = 44
	IPv6ESP        uint8 = 50 // encrypted: nothing after it is readable
	IPv6AH         uint8 = 51
	IPv6NoNext     uint8 = 59
	IPv6DestOpts   uint8 = 60
	MaxIPv6ExtHdrs       = 32 // extension headers walked before ReasonIPv6ExtLoop
)

// IPv6 is a view of an IPv6 header and what follows it.
type IPv6 []byte

// NewIPv6 checks an IPv6 header the way Linux's ipv6_rcv does before
// netfilter sees the packet (version, payload length against the bytes
// present) and returns a view clipped to 40 + payload length. A payload
// length of 0 (a jumbogram without its option, or a broken header) leaves
// the fixed header only.
func NewIPv6(b []byte) (IPv6, DropReason) {
	if len(b) < IPv6Size {
		return nil, ReasonIPv6Truncated
	}
	v := IPv6(b)
	if v.Version() != 6 {
		return nil, ReasonIPv6BadVersion
	}
	n := IPv6Size + int(v.PayloadLength())
	if n > len(b) {
		return nil, ReasonIPv6BadLength
	}
	return v[:n], ReasonNone
}

// Version returns the version nibble.
func (b IPv6) Version() uint8 { return b[ipv6VersionTC] >> 4 }

// TrafficClass returns the traffic class byte.
func (b IPv6) TrafficClass() uint8 {
	return uint8(binary.BigEndian.Uint16(b[ipv6VersionTC:]) >> 4)
}

// FlowLabel returns the 20-bit flow label.
func (b IPv6) FlowLabel() uint32 { return binary.BigEndian.Uint32(b[ipv6VersionTC:]) & 0xfffff }

// PayloadLength returns the payload length field.
func (b IPv6) PayloadLength() uint16 { return binary.BigEndian.Uint16(b[ipv6PayloadLen:]) }

// NextHeader returns the next-header field of the fixed header.
func (b IPv6) NextHeader() uint8 { return b[ipv6NextHeader] }

// HopLimit returns the hop limit.
func (b IPv6) HopLimit() uint8 { return b[ipv6HopLimit] }

// Source returns the source address.
func (b IPv6) Source() [16]byte { return [16]byte(b[ipv6Src : ipv6Src+16]) }

// Destination returns the destination address.
func (b IPv6) Destination() [16]byte { return [16]byte(b[ipv6Dst : ipv6Dst+16]) }

// IsIPv6ExtHeader reports whether nh names an extension header that the
// walk steps over (hop-by-hop, routing, fragment, destination options,
// AH), as Linux's ipv6_ext_hdr does (less NONE, which ends the walk).
func IsIPv6ExtHeader(nh uint8) bool {
	switch nh {
	case IPv6HopByHop, IPv6Routing, IPv6Fragment, IPv6DestOpts, IPv6AH:
		return true
	}
	return false
}

// Generic extension header layout (hop-by-hop, routing, destination
// options; AH counts its length in 4-byte units less 2):
//
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  Next Header  |  Hdr Ext Len  |                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
//	.                     (Hdr Ext Len + 1) * 8 bytes               .
const (
	extNextHeader = 0
	extLen        = 1
)

// IPv6ExtLen returns the length in bytes of the extension header nh whose
// first two bytes are b (b needs at least 2 bytes).
func IPv6ExtLen(nh uint8, b []byte) int {
	switch nh {
	case IPv6Fragment:
		return IPv6FragmentSize
	case IPv6AH:
		return (int(b[extLen]) + 2) * 4
	}
	return (int(b[extLen]) + 1) * 8
}

// IPv6 fragment header layout:
//
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  Next Header  |   Reserved    |      Fragment Offset    |Res|M|
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                         Identification                        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
const (
	fragNextHeader   = 0
	fragOffsetFlags  = 2
	fragID           = 4
	IPv6FragmentSize = 8 // bytes in an IPv6 fragment header
)

// IPv6Frag is a view of an IPv6 fragment header.
type IPv6Frag []byte

// NewIPv6Frag checks that b holds a fragment header and returns its view.
func NewIPv6Frag(b []byte) (IPv6Frag, DropReason) {
	if len(b) < IPv6FragmentSize {
		return nil, ReasonIPv6ExtTruncated
	}
	return IPv6Frag(b), ReasonNone
}

// NextHeader returns the header type of the fragmentable part.
func (b IPv6Frag) NextHeader() uint8 { return b[fragNextHeader] }

// Offset returns the fragment offset in bytes.
func (b IPv6Frag) Offset() uint16 { return binary.BigEndian.Uint16(b[fragOffsetFlags:]) &^ 7 }

// More reports the more-fragments flag.
func (b IPv6Frag) More() bool { return b[fragOffsetFlags+1]&1 != 0 }

// ID returns the identification.
func (b IPv6Frag) ID() uint32 { return binary.BigEndian.Uint32(b[fragID:]) }

// HopOptsValid reports whether ipv6_rcv lets b (a view from NewIPv6) on
// to netfilter as far as a hop-by-hop header that comes first goes:
// Linux parses that header before the PRE_ROUTING hook
// (ipv6_parse_hopopts, ip6_parse_tlv) and drops the packet, so conntrack
// never sees it, when:
//   - the header runs past the packet, or an option past the header;
//   - padding runs longer than 7 bytes, or PadN carries a byte that is
//     not zero;
//   - it holds more than 8 options besides padding (Linux's default
//     net.ipv6.max_hbh_opts_number);
//   - an option is unknown and its type's two high bits say discard;
//   - Router Alert's data is not 2 bytes; a Jumbo Payload option appears
//     in a packet with a payload length (that is, in every packet this
//     parser takes); a CALIPSO option appears (no CALIPSO domain is
//     configured, Linux's default); an IOAM option is not 4-byte aligned
//     in the packet or has less than 2 bytes of data (IOAM itself is off
//     on every interface by default, so its data is not looked at).
//
// TestHopOptsAsLinux asks Linux about each of these. A hop-by-hop header
// anywhere else is skipped by its length, as conntrack does
// (ipv6_skip_exthdr); destination options are not parsed before netfilter.
func (b IPv6) HopOptsValid() bool {
	if b.NextHeader() != IPv6HopByHop {
		return true
	}
	if IPv6Size+2 > len(b) {
		return false
	}
	l := IPv6ExtLen(IPv6HopByHop, b[IPv6Size:])
	if IPv6Size+l > len(b) {
		return false
	}
	h := b[IPv6Size : IPv6Size+l]
	pad, options := 0, 0
	for i := 2; i < len(h); {
		if h[i] == ipv6OptPad1 {
			if pad++; pad > maxIPv6Padding {
				return false
			}
			i++
			continue
		}
		if i+2 > len(h) {
			return false
		}
		typ, n := h[i], 2+int(h[i+1])
		if i+n > len(h) {
			return false
		}
		if typ == ipv6OptPadN {
			if pad += n; pad > maxIPv6Padding {
				return false
			}
			for _, c := range h[i+2 : i+n] {
				if c != 0 {
					return false
				}
			}
			i += n
			continue
		}
		pad = 0
		if options++; options > maxHopOpts {
			return false
		}
		off := IPv6Size + i // the option's offset in the packet
		switch typ {
		case ipv6OptRouterAlert:
			if n != 4 {
				return false
			}
		case ipv6OptJumbo, ipv6OptCALIPSO:
			return false
		case ipv6OptIOAM:
			if off%4 != 0 || n < 4 {
				return false
			}
		default:
			if typ>>6 != 0 { // unknown: 01 discard, 10 and 11 discard and report
				return false
			}
		}
		i += n
	}
	return true
}

// Hop-by-hop options (RFC 8200 4.2, and the options Linux knows) and
// the limits ip6_parse_tlv applies by default.
const (
	ipv6OptPad1        = 0
	ipv6OptPadN        = 1
	ipv6OptRouterAlert = 5
	ipv6OptCALIPSO     = 7
	ipv6OptIOAM        = 0x31
	ipv6OptJumbo       = 0xc2
	maxIPv6Padding     = 7 // the longest padding run: what aligns to 8
	maxHopOpts         = 8 // net.ipv6.max_hbh_opts_number
)

// IPv6Chain is the result of walking the extension headers of an IPv6
// packet: where the upper-layer header starts and which one it is, and
// the fragment header met on the way, if any.
type IPv6Chain struct {
	Proto   uint8 // upper-layer protocol (or ESP / no-next-header)
	Off     int   // offset of the upper-layer header from the IPv6 header
	FragOff int   // offset of the fragment header (0 when none)
	// PrevOff is the offset of the next-header byte that names the
	// fragment header (6 when the fixed header does); valid with FragOff.
	PrevOff int
}

// WalkExt walks the extension headers of b (a view from NewIPv6, or a
// quoted header clipped to what an ICMPv6 error holds). The walk stops at
// the first header that is not an extension header, at ESP, at
// no-next-header, and at a non-first fragment's fragment header (what
// follows is fragment data; Proto is then the fragment header's next
// header and Off the data's offset). Like conntrack's ipv6_skip_exthdr it
// checks only that each header fits (HopOptsValid checks what ipv6_rcv
// checks of a first hop-by-hop header).
func (b IPv6) WalkExt() (c IPv6Chain, r DropReason) {
	nh := b.NextHeader()
	off := IPv6Size
	prev := ipv6NextHeader
	for n := 0; IsIPv6ExtHeader(nh); n++ {
		if n == MaxIPv6ExtHdrs {
			return c, ReasonIPv6ExtLoop
		}
		if off+2 > len(b) {
			return c, ReasonIPv6ExtTruncated
		}
		l := IPv6ExtLen(nh, b[off:])
		if off+l > len(b) {
			return c, ReasonIPv6ExtTruncated
		}
		h := b[off : off+l]
		if nh == IPv6Fragment {
			if c.FragOff == 0 {
				c.FragOff, c.PrevOff = off, prev
			}
			if f := IPv6Frag(h); f.Offset() != 0 {
				c.Proto, c.Off = f.NextHeader(), off+l
				return c, ReasonNone
			}
		}
		prev = off + extNextHeader
		nh = h[extNextHeader]
		off += l
	}
	c.Proto, c.Off = nh, off
	return c, ReasonNone
}
