package packet

// LinkType is the framing of a frame handed to Parse.
type LinkType uint8

// Link types seen on ports and in public captures.
const (
	LinkEthernet  LinkType = iota // Ethernet II, optionally with 802.1Q/802.1ad tags
	LinkLinuxSLL                  // Linux "cooked" capture v1 (DLT_LINUX_SLL)
	LinkRawIP                     // raw IPv4 or IPv6, version from the first nibble (DLT_RAW)
	LinkNull                      // BSD loopback: 4-byte host-order address family (DLT_NULL)
	LinkLoop                      // OpenBSD loopback: 4-byte network-order family (DLT_LOOP)
	LinkLinuxSLL2                 // Linux "cooked" capture v2 (DLT_LINUX_SLL2)
	LinkIPv4                      // raw IPv4 only (LINKTYPE_IPV4); another version is a bad IPv4 header
	LinkIPv6                      // raw IPv6 only (LINKTYPE_IPV6); another version is a bad IPv6 header
)

// Family is the IP version of a parsed packet; 0 means the frame carried no IP.
type Family uint8

// Address families.
const (
	FamilyNone Family = 0
	FamilyIPv4 Family = 4
	FamilyIPv6 Family = 6
)

// IP protocol numbers the trackers know by name.
const (
	ProtoICMP   uint8 = 1
	ProtoTCP    uint8 = 6
	ProtoUDP    uint8 = 17
	ProtoICMPv6 uint8 = 58
)

// TCP flag bits as they appear in the TCP header's flags byte.
const (
	TCPFin uint8 = 0x01
	TCPSyn uint8 = 0x02
	TCPRst uint8 = 0x04
	TCPPsh uint8 = 0x08
	TCPAck uint8 = 0x10
	TCPUrg uint8 = 0x20
	TCPEce uint8 = 0x40
	TCPCwr uint8 = 0x80
)

// Tuple is the addressing of one IP packet in the direction it travels.
// IPv4 addresses occupy the first 4 bytes of Src and Dst; the rest is zero.
// For ICMP queries and replies SrcPort and DstPort both carry the ICMP id,
// as Linux conntrack keys them; for protocols without ports both are zero.
type Tuple struct {
	Src, Dst         [16]byte
	SrcPort, DstPort uint16
	Proto            uint8
	Family           Family
}

// TCPInfo holds the TCP header fields the tracker needs, read once by Parse.
type TCPInfo struct {
	Seq, Ack  uint32
	Window    uint16 // unscaled, as on the wire
	Flags     uint8  // TCPFin..TCPCwr
	HeaderLen uint8  // data offset in bytes
	MSS       uint16 // 0 when absent
	WScale    uint8  // shift as sent (not clamped); valid only when HasWScale
	HasWScale bool
	SACKPerm  bool
	HasTS     bool
	TSVal     uint32
	TSEcr     uint32
}

// ICMPInfo holds the ICMP or ICMPv6 header fields the tracker needs.
type ICMPInfo struct {
	Type, Code uint8
	ID         uint16 // identifier of echo/timestamp/info/mask queries and replies
	IsError    bool   // destination unreachable, time exceeded, ... (a quoted packet follows)
	// Inner is the tuple of the quoted packet, as it travelled (not inverted).
	// Valid only when InnerOK; InnerReason says why it is not.
	Inner       Tuple
	InnerOK     bool
	InnerReason DropReason
	// InnerICMPType is the type of a quoted ICMP packet (the tracker only
	// relates errors quoting ICMP queries).
	InnerICMPType uint8
	// InnerTCPSeq is the sequence number of a quoted TCP segment.
	InnerTCPSeq uint32
}

// Fragment describes an IP fragment. A packet that is a fragment (Is) has
// no transport header unless it is the first fragment (Offset 0); the
// pipeline hands fragments to reassembly before tracking.
type Fragment struct {
	Is     bool
	More   bool   // the more-fragments flag
	Offset uint16 // in bytes
	ID     uint32 // IPv4 identification or IPv6 fragment header identification
}

// Parsed is the result of parsing one frame: offsets into the frame and the
// header fields the engine reads. It holds the frame slice but never copies
// it; a worker keeps one Parsed per burst slot and Parse overwrites it.
type Parsed struct {
	Frame []byte // the whole frame as received

	L3Off      uint16 // offset of the IP header
	L4Off      uint16 // offset of the transport header (0 when none)
	PayloadOff uint16 // offset of the transport payload
	// PayloadLen is the transport payload length as the IP header states it,
	// clipped to what the frame holds (Ethernet padding excluded).
	PayloadLen uint16
	// IPLen is the IP datagram length from the header (IPv4 total length,
	// IPv6 40 + payload length).
	IPLen uint16
	// FragDataOff is the offset of a fragment's data (after the IPv4
	// header, or after the IPv6 fragment header); valid when Fragment.Is.
	FragDataOff uint16

	VLANs   uint8     // number of 802.1Q/802.1ad tags
	VLAN    [2]uint16 // VLAN ids, outermost first
	EthType uint16    // EtherType after the tags (0 for non-Ethernet links)

	Tuple    Tuple
	Fragment Fragment
	TTL      uint8 // IPv4 TTL or IPv6 hop limit

	TCP  TCPInfo  // valid when Tuple.Proto == ProtoTCP
	ICMP ICMPInfo // valid when Tuple.Proto is ProtoICMP or ProtoICMPv6
	// UDPLen is the UDP header's length field.
	UDPLen uint16
}

// Family reports the packet's IP version.
func (p *Parsed) Family() Family { return p.Tuple.Family }

// Payload returns the transport payload (empty when there is none).
func (p *Parsed) Payload() []byte {
	end := int(p.PayloadOff) + int(p.PayloadLen)
	if p.PayloadOff == 0 || end > len(p.Frame) {
		return nil
	}
	return p.Frame[p.PayloadOff:end]
}
