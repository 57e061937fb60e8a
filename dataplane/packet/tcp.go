package packet

import "encoding/binary"

// TCP header layout (RFC 9293):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|          Source Port          |       Destination Port        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                        Sequence Number                        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    Acknowledgment Number                      |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  Data |       |C|E|U|A|P|R|S|F|                               |
//	| Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|           Checksum            |         Urgent Pointer        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                           Options                             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
const (
	tcpSrcPort  = 0
	tcpDstPort  = 2
	tcpSeq      = 4
	tcpAck      = 8
	tcpDataOff  = 12
	tcpFlags    = 13
	tcpWindow   = 14
	tcpChecksum = 16
	tcpUrgent   = 18
	TCPMinSize  = 20 // bytes in a TCP header without options
)

// TCP option kinds the parser reads (RFC 9293, RFC 7323, RFC 2018).
const (
	tcpOptEOL       = 0
	tcpOptNOP       = 1
	tcpOptMSS       = 2
	tcpOptWScale    = 3
	tcpOptSACKPerm  = 4
	tcpOptTimestamp = 8

	tcpOptMSSLen       = 4
	tcpOptWScaleLen    = 3
	tcpOptSACKPermLen  = 2
	tcpOptTimestampLen = 10
)

// TCP is a view of a TCP header and its payload.
type TCP []byte

// NewTCP checks that b (the transport bytes up to the IP length) holds a
// TCP header whose data offset is sane, as Linux conntrack's tcp_error
// does: fewer than 20 bytes is ReasonTCPTruncated, a data offset below 5
// or beyond b is ReasonTCPBadOffset.
func NewTCP(b []byte) (TCP, DropReason) {
	if len(b) < TCPMinSize {
		return nil, ReasonTCPTruncated
	}
	t := TCP(b)
	if hl := t.HeaderLen(); hl < TCPMinSize || hl > len(b) {
		return nil, ReasonTCPBadOffset
	}
	return t, ReasonNone
}

// SourcePort returns the source port.
func (b TCP) SourcePort() uint16 { return binary.BigEndian.Uint16(b[tcpSrcPort:]) }

// DestinationPort returns the destination port.
func (b TCP) DestinationPort() uint16 { return binary.BigEndian.Uint16(b[tcpDstPort:]) }

// Seq returns the sequence number.
func (b TCP) Seq() uint32 { return binary.BigEndian.Uint32(b[tcpSeq:]) }

// Ack returns the acknowledgment number.
func (b TCP) Ack() uint32 { return binary.BigEndian.Uint32(b[tcpAck:]) }

// HeaderLen returns the data offset in bytes.
func (b TCP) HeaderLen() int { return int(b[tcpDataOff]>>4) * 4 }

// Flags returns the flags byte (TCPFin..TCPCwr).
func (b TCP) Flags() uint8 { return b[tcpFlags] }

// Window returns the unscaled window.
func (b TCP) Window() uint16 { return binary.BigEndian.Uint16(b[tcpWindow:]) }

// Checksum returns the checksum field.
func (b TCP) Checksum() uint16 { return binary.BigEndian.Uint16(b[tcpChecksum:]) }

// UrgentPointer returns the urgent pointer.
func (b TCP) UrgentPointer() uint16 { return binary.BigEndian.Uint16(b[tcpUrgent:]) }

// Options returns the option bytes.
func (b TCP) Options() []byte { return b[TCPMinSize:b.HeaderLen()] }

// Payload returns the bytes after the header.
func (b TCP) Payload() []byte { return b[b.HeaderLen():] }

// ParseTCPOptions reads MSS, window scale, SACK-permitted and timestamps
// from opts into t. Like Linux's tcp_options and tcp_parse_options it is
// lenient: it stops at EOL and at the first malformed option (a length
// below 2 or past the end) and keeps what it read so far; an option of the
// wrong length is skipped. It never fails, so Parse never returns
// ReasonTCPBadOptions.
func ParseTCPOptions(opts []byte, t *TCPInfo) {
	for i := 0; i < len(opts); {
		kind := opts[i]
		switch kind {
		case tcpOptEOL:
			return
		case tcpOptNOP:
			i++
			continue
		}
		if i+2 > len(opts) {
			return
		}
		n := int(opts[i+1])
		if n < 2 || i+n > len(opts) {
			return
		}
		o := opts[i : i+n]
		switch {
		case kind == tcpOptMSS && n == tcpOptMSSLen:
			t.MSS = binary.BigEndian.Uint16(o[2:])
		case kind == tcpOptWScale && n == tcpOptWScaleLen:
			t.WScale, t.HasWScale = o[2], true
		case kind == tcpOptSACKPerm && n == tcpOptSACKPermLen:
			t.SACKPerm = true
		case kind == tcpOptTimestamp && n == tcpOptTimestampLen:
			t.HasTS = true
			t.TSVal = binary.BigEndian.Uint32(o[2:])
			t.TSEcr = binary.BigEndian.Uint32(o[6:])
		}
		i += n
	}
}
