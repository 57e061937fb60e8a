package packet

import "encoding/binary"

// UDP header layout (RFC 768):
//
//	 0      7 8     15 16    23 24    31
//	+--------+--------+--------+--------+
//	|   Source Port   |    Dest Port    |
//	+--------+--------+--------+--------+
//	|     Length      |    Checksum     |
//	+--------+--------+--------+--------+
const (
	udpSrcPort  = 0
	udpDstPort  = 2
	udpLength   = 4
	udpChecksum = 6
	UDPSize     = 8 // bytes in a UDP header
)

// UDP is a view of a UDP header and its payload.
type UDP []byte

// NewUDP checks that b (the transport bytes up to the IP length) holds a
// UDP header whose length field fits, as Linux conntrack's udp_error does:
// fewer than 8 bytes is ReasonUDPTruncated; a length field below 8 or
// beyond b is ReasonUDPBadLength. A length field shorter than b is legal
// (the rest is IP padding) and the view is clipped to it.
func NewUDP(b []byte) (UDP, DropReason) {
	if len(b) < UDPSize {
		return nil, ReasonUDPTruncated
	}
	u := UDP(b)
	n := int(u.Length())
	if n < UDPSize || n > len(b) {
		return nil, ReasonUDPBadLength
	}
	return u[:n], ReasonNone
}

// SourcePort returns the source port.
func (b UDP) SourcePort() uint16 { return binary.BigEndian.Uint16(b[udpSrcPort:]) }

// DestinationPort returns the destination port.
func (b UDP) DestinationPort() uint16 { return binary.BigEndian.Uint16(b[udpDstPort:]) }

// Length returns the length field (header and payload).
func (b UDP) Length() uint16 { return binary.BigEndian.Uint16(b[udpLength:]) }

// Checksum returns the checksum field.
func (b UDP) Checksum() uint16 { return binary.BigEndian.Uint16(b[udpChecksum:]) }

// Payload returns the bytes after the header.
func (b UDP) Payload() []byte { return b[UDPSize:] }
