package conntrack

import "github.com/statewall/statewall/flowtable"

// Entry status bits the tracker keeps in flowtable.Entry.Flags beside the
// table's own FlagOrigIsB, FlagAssured (Linux IPS_ASSURED) and FlagClosing.
const (
	FlagSeenReply uint8 = 1 << 5 // a reply was seen (Linux IPS_SEEN_REPLY; UNREPLIED when clear)
	FlagExpected  uint8 = 1 << 6 // created from an expectation (IPS_EXPECTED)
	FlagHelper    uint8 = 1 << 7 // an ALG helper is attached (its scratch is in the helper pool)
)

// Conn is the per-connection state, the flow table's value. It is 40 bytes
// and pointer-free so that an IPv4 entry fits one 64-byte cache line: key
// 16, Expires 4, Flags 1 (+3 padding), Conn 40.
//
// Layout, TCP (fields as Linux's struct ip_ct_tcp names them):
//
//	w[0:2]   td_end per direction (original, reply)
//	w[2:4]   td_maxend per direction
//	w[4:6]   td_maxwin per direction
//	lag[d]   td_maxack of direction d as a distance below the other
//	         direction's td_end (saturating at 65535); in SYN_SENT, where no
//	         td_maxack is set, both halves hold last_ack of an ignored reply
//	         ACK (the RFC 5961 challenge-ACK check); while a SYN ignored in
//	         another state awaits its SYN/ACK, lag of its direction holds
//	         that SYN's window (last_win) and its MAXACK flag is cleared
//	lastEnd  16-bit fingerprint of last_end (only ever compared for equality)
//	st       state (4 bits), last_index (3 bits), last_dir (1 bit)
//	df[d]    per-direction flags (window scale seen, SACK permitted, MAXACK
//	         set, be_liberal, close initiated, data unacknowledged), the high
//	         two bits of each hold half of last_wscale
//	scale    td_scale, original in the low nibble, reply in the high one
//	misc     retrans count (2 bits, saturating), simultaneous open,
//	         challenge-ACK expected, last_win was 0, the ignored SYN's window
//	         scale and SACK-permitted options
//	rfp      8-bit fingerprint of the last ACK segment (dir, seq, ack, end,
//	         window) for the retransmission count
//
// Layout, UDP, ICMP, ICMPv6 and generic: w[0] is the creation time (the
// UDP two-second ASSURED rule), w[1] the ICMP query type.
//
// Cache is the pipeline's verdict cache. The 40 bytes do not leave room for
// one slot per direction beside the TCP state, so there is one uint32 for
// both directions: the pipeline must fold the direction into what it stores.
type Conn struct {
	Cache   uint32 // verdict cache, opaque to the tracker, zero at creation
	w       [6]uint32
	lag     [2]uint16
	lastEnd uint16
	st      uint8
	df      [2]uint8
	scale   uint8
	misc    uint8
	rfp     uint8
}

// Per-direction TCP flag bits (df), after Linux's IP_CT_TCP_FLAG_*.
const (
	dfWScale    uint8 = 1 << iota // the direction sent the window-scale option
	dfSACKPerm                    // the direction sent SACK-permitted
	dfMaxAck                      // td_maxack is set
	dfLiberal                     // be liberal with this direction's window failures
	dfCloseInit                   // this direction sent the first FIN
	dfDataUnack                   // this direction has unacknowledged data
	dfMask      uint8 = 1<<6 - 1
)

// misc bits.
const (
	miscRetrans      uint8 = 3      // retransmission count, saturating at 3
	miscSimOpen      uint8 = 1 << 2 // simultaneous open seen (IP_CT_TCP_SIMULTANEOUS_OPEN)
	miscChallenge    uint8 = 1 << 3 // a SYN was ignored in LAST_ACK: expect a challenge ACK
	miscLastWinZero  uint8 = 1 << 4 // last_win == 0
	miscLastWS       uint8 = 1 << 5 // the ignored SYN carried window scale
	miscLastSACKPerm uint8 = 1 << 6 // the ignored SYN carried SACK-permitted
)

const lagMax = 0xffff

func (c *Conn) tcpState() TCPState { return TCPState(c.st & 0x0f) }

func (c *Conn) lastIndex() tcpIndex { return tcpIndex(c.st >> 4 & 7) }

func (c *Conn) lastDir() int { return int(c.st >> 7) }

func (c *Conn) setLast(i tcpIndex, dir int) { c.st = c.st&0x0f | uint8(i)<<4 | uint8(dir)<<7 }

func (c *Conn) tdScale(d int) uint8 { return c.scale >> (4 * d) & 0x0f }

func (c *Conn) setTDScale(d int, s uint8) {
	c.scale = c.scale&^(0x0f<<(4*d)) | (s&0x0f)<<(4*d)
}

func (c *Conn) retrans() uint8 { return c.misc & miscRetrans }

func (c *Conn) lastWscale() uint8 { return c.df[0]>>6 | c.df[1]>>6<<2 }

func (c *Conn) setLastWscale(s uint8) {
	c.df[0] = c.df[0]&dfMask | (s&3)<<6
	c.df[1] = c.df[1]&dfMask | (s>>2&3)<<6
}

// flags returns direction d's df bits without the packed last_wscale.
func (c *Conn) flags(d int) uint8 { return c.df[d] & dfMask }

func (c *Conn) setFlags(d int, f uint8) { c.df[d] = c.df[d]&^dfMask | f&dfMask }

func (c *Conn) end(d int) uint32    { return c.w[d] }
func (c *Conn) maxEnd(d int) uint32 { return c.w[2+d] }
func (c *Conn) maxWin(d int) uint32 { return c.w[4+d] }

func (c *Conn) setMaxEnd(d int, v uint32) { c.w[2+d] = v }
func (c *Conn) setMaxWin(d int, v uint32) { c.w[4+d] = v }

// setEnd sets td_end of direction d, keeping the other direction's
// td_maxack (stored relative to it) where it was.
func (c *Conn) setEnd(d int, v uint32) {
	o := 1 - d
	if c.df[o]&dfMaxAck != 0 {
		c.lag[o] = clampLag(int64(c.lag[o]) + int64(int32(v-c.w[d])))
	}
	c.w[d] = v
}

// maxAck returns td_maxack of direction d (valid when dfMaxAck is set).
func (c *Conn) maxAck(d int) uint32 { return c.w[1-d] - uint32(c.lag[d]) }

// setMaxAck sets td_maxack of direction d and marks it set.
func (c *Conn) setMaxAck(d int, ack uint32) {
	c.lag[d] = clampLag(int64(int32(c.w[1-d] - ack)))
	c.df[d] |= dfMaxAck
}

func clampLag(v int64) uint16 {
	if v < 0 {
		return 0
	}
	if v > lagMax {
		return lagMax
	}
	return uint16(v)
}

// Layout of the non-TCP protocols.
func (c *Conn) created() uint32       { return c.w[0] }
func (c *Conn) setCreated(now uint32) { c.w[0] = now }
func (c *Conn) setICMPType(t uint8)   { c.w[1] = uint32(t) }

// fp16 is a 16-bit fingerprint of a sequence number.
func fp16(x uint32) uint16 { return uint16((x * 0x9e3779b1) >> 16) }

// segFP is an 8-bit fingerprint of a segment for the retransmission check.
func segFP(dir int, seq, ack, end uint32, win uint16) uint8 {
	h := uint64(seq)<<32 | uint64(ack)
	h ^= (uint64(end)<<16 | uint64(win)) * 0x9e3779b97f4a7c15
	h = (h ^ uint64(dir)) * 0xff51afd7ed558ccd
	return uint8(h >> 56)
}

// closing reports whether s is a closing state (an early-drop candidate).
func closing(s TCPState) bool {
	switch s {
	case TCPFinWait, TCPCloseWait, TCPLastAck, TCPTimeWait, TCPClose:
		return true
	}
	return false
}

// Entry4 and Entry6 are the table entries.
type (
	Entry4 = flowtable.Entry[flowtable.Key4, Conn]
	Entry6 = flowtable.Entry[flowtable.Key6, Conn]
)
