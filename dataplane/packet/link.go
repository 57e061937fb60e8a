package packet

import "encoding/binary"

// String returns the link type's name.
func (l LinkType) String() string {
	switch l {
	case LinkEthernet:
		return "ethernet"
	case LinkLinuxSLL:
		return "linux-sll"
	case LinkRawIP:
		return "raw-ip"
	case LinkNull:
		return "null"
	case LinkLoop:
		return "loop"
	case LinkLinuxSLL2:
		return "linux-sll2"
	case LinkIPv4:
		return "ipv4"
	case LinkIPv6:
		return "ipv6"
	}
	return "unknown"
}

// LinkTypeFromDLT maps a pcap LINKTYPE_/DLT_ number to a LinkType; ok is
// false for link types the parser does not read.
func LinkTypeFromDLT(dlt uint32) (l LinkType, ok bool) {
	switch dlt {
	case 1: // LINKTYPE_ETHERNET
		return LinkEthernet, true
	case 113: // LINKTYPE_LINUX_SLL
		return LinkLinuxSLL, true
	case 276: // LINKTYPE_LINUX_SLL2
		return LinkLinuxSLL2, true
	case 101, 12, 14: // LINKTYPE_RAW and the DLT_RAW values of some BSDs
		return LinkRawIP, true
	case 0: // LINKTYPE_NULL
		return LinkNull, true
	case 108: // LINKTYPE_LOOP
		return LinkLoop, true
	case 228: // LINKTYPE_IPV4
		return LinkIPv4, true
	case 229: // LINKTYPE_IPV6
		return LinkIPv6, true
	}
	return 0, false
}

// Linux cooked capture v1 (LINKTYPE_LINUX_SLL) header layout:
//
//	0        2        4         6                     14       16
//	+--------+--------+---------+---------------------+--------+
//	|pkt type| ARPHRD |addr len | link-layer address  |protocol|
//	+--------+--------+---------+---------------------+--------+
//
// The protocol is an EtherType for Ethernet-like devices.
const (
	sllProtocol = 14
	SLLSize     = 16 // bytes in a Linux SLL header
)

// Linux cooked capture v2 (LINKTYPE_LINUX_SLL2) header layout:
//
//	0        2          4          8       10       11        12        20
//	+--------+----------+----------+-------+--------+---------+---------+
//	|protocol| reserved | ifindex  |ARPHRD |pkt type|addr len | address |
//	+--------+----------+----------+-------+--------+---------+---------+
const (
	sll2Protocol = 0
	SLL2Size     = 20 // bytes in a Linux SLL2 header
)

// Loopback (DLT_NULL, DLT_LOOP) header: a 4-byte address family.
const (
	NullSize = 4 // bytes in a DLT_NULL / DLT_LOOP header
	// BSD address family values for IP on loopback captures.
	nullAFInet      = 2
	nullAFInet6BSD  = 24 // NetBSD, OpenBSD
	nullAFInet6Free = 28 // FreeBSD
	nullAFInet6Dar  = 30 // Darwin
)

// nullFamily maps a loopback address family to an EtherType (0 when it is
// not IP).
func nullFamily(af uint32) uint16 {
	switch af {
	case nullAFInet:
		return EtherTypeIPv4
	case nullAFInet6BSD, nullAFInet6Free, nullAFInet6Dar:
		return EtherTypeIPv6
	}
	return 0
}

// nullHostFamily reads a DLT_NULL family written in the capturing host's
// byte order, which the frame does not say: families are small numbers,
// so a value that only makes sense read the other way round is swapped.
func nullHostFamily(b []byte) uint32 {
	le := binary.LittleEndian.Uint32(b)
	if le <= 0xffff {
		return le
	}
	return binary.BigEndian.Uint32(b)
}
