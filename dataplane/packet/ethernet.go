package packet

import "encoding/binary"

// EtherTypes the parser knows.
const (
	EtherTypeIPv4   uint16 = 0x0800
	EtherTypeARP    uint16 = 0x0806
	EtherTypeVLAN   uint16 = 0x8100 // IEEE 802.1Q customer tag
	EtherTypeIPv6   uint16 = 0x86dd
	EtherTypeQinQ   uint16 = 0x88a8 // IEEE 802.1ad service tag
	EtherTypeQinQv1 uint16 = 0x9100 // pre-standard QinQ service tag
)

// Ethernet II header layout:
//
//	0                   6                  12        14
//	+-------------------+-------------------+---------+
//	|  destination MAC  |    source MAC     |EtherType|
//	+-------------------+-------------------+---------+
const (
	ethDst       = 0
	ethSrc       = 6
	ethType      = 12
	EthernetSize = 14 // bytes in an untagged Ethernet II header
)

// Ethernet is a view of an Ethernet II header at the start of a frame.
type Ethernet []byte

// NewEthernet checks that b holds an Ethernet header and returns its view.
func NewEthernet(b []byte) (Ethernet, DropReason) {
	if len(b) < EthernetSize {
		return nil, ReasonRuntFrame
	}
	return Ethernet(b), ReasonNone
}

// Destination returns the destination MAC address.
func (b Ethernet) Destination() [6]byte { return [6]byte(b[ethDst : ethDst+6]) }

// Source returns the source MAC address.
func (b Ethernet) Source() [6]byte { return [6]byte(b[ethSrc : ethSrc+6]) }

// Type returns the EtherType (the first tag's TPID when tagged).
func (b Ethernet) Type() uint16 { return binary.BigEndian.Uint16(b[ethType:]) }

// IsVLANTPID reports whether t is a VLAN tag protocol identifier
// (802.1Q 0x8100, 802.1ad 0x88a8, or the pre-standard 0x9100).
func IsVLANTPID(t uint16) bool {
	return t == EtherTypeVLAN || t == EtherTypeQinQ || t == EtherTypeQinQv1
}

// VLAN tag layout (what follows a TPID):
//
//	0       2         4
//	+-------+---------+
//	|  TCI  |EtherType|   TCI = PCP(3) DEI(1) VID(12)
//	+-------+---------+
const (
	vlanTCI  = 0
	vlanType = 2
	VLANSize = 4 // bytes of a VLAN tag after its TPID
)

// VLAN is a view of an 802.1Q/802.1ad tag body (TCI and inner EtherType).
type VLAN []byte

// NewVLAN checks that b holds a tag body and returns its view.
func NewVLAN(b []byte) (VLAN, DropReason) {
	if len(b) < VLANSize {
		return nil, ReasonVLANTruncated
	}
	return VLAN(b), ReasonNone
}

// ID returns the 12-bit VLAN identifier.
func (b VLAN) ID() uint16 { return binary.BigEndian.Uint16(b[vlanTCI:]) & 0x0fff }

// Priority returns the 3-bit priority code point.
func (b VLAN) Priority() uint8 { return b[vlanTCI] >> 5 }

// Type returns the EtherType (or next TPID) after the tag.
func (b VLAN) Type() uint16 { return binary.BigEndian.Uint16(b[vlanType:]) }
