package packet

import "encoding/binary"

// IPv4 header layout (RFC 791):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|Version|  IHL  |Type of Service|          Total Length         |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|         Identification        |Flags|      Fragment Offset    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  Time to Live |    Protocol   |         Header Checksum       |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                       Source Address                          |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    Destination Address                        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    Options                    |    Padding    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
const (
	ipv4VersionIHL = 0
	ipv4TOS        = 1
	ipv4TotalLen   = 2
	ipv4ID         = 4
	ipv4FlagsFrag  = 6
	ipv4TTL        = 8
	ipv4Protocol   = 9
	ipv4Checksum   = 10
	ipv4Src        = 12
	ipv4Dst        = 16
	IPv4MinSize    = 20 // bytes in an IPv4 header without options
	IPv4MaxSize    = 60 // bytes in an IPv4 header with the most options
)

// IPv4 flag and fragment offset bits of the 16-bit field at ipv4FlagsFrag.
const (
	IPv4FlagDF         uint16 = 0x4000 // don't fragment
	IPv4FlagMF         uint16 = 0x2000 // more fragments
	ipv4FragOffsetMask uint16 = 0x1fff // in 8-byte units
)

// IPv4 option types Linux's ip_options_compile checks (RFC 791, RFC 2113).
const (
	ipv4OptEnd       = 0
	ipv4OptNOP       = 1
	ipv4OptRR        = 7
	ipv4OptTimestamp = 68
	ipv4OptLSRR      = 131
	ipv4OptSSRR      = 137
	ipv4OptRA        = 148
)

// IPv4 is a view of an IPv4 header and what follows it.
type IPv4 []byte

// NewIPv4 checks an IPv4 header the way Linux's ip_rcv does before
// netfilter sees the packet (version, header length, total length against
// the bytes present) and returns a view clipped to the total length, so
// that link-layer padding is excluded. The header checksum and the options
// are not checked here: see IPv4.ChecksumValid and IPv4.OptionsValid.
func NewIPv4(b []byte) (IPv4, DropReason) {
	return newIPv4(b, ChecksumIgnore)
}

// newIPv4 is NewIPv4 with the header checksum checked per policy where
// ip_rcv checks it: after the header length, before the total length.
func newIPv4(b []byte, policy ChecksumPolicy) (IPv4, DropReason) {
	if len(b) < IPv4MinSize {
		return nil, ReasonIPv4Truncated
	}
	v := IPv4(b)
	if v.Version() != 4 {
		return nil, ReasonIPv4BadVersion
	}
	hl := v.HeaderLen()
	if hl < IPv4MinSize || hl > len(b) {
		return nil, ReasonIPv4BadIHL
	}
	switch policy {
	case ChecksumVerify:
		if !v.ChecksumValid() {
			return nil, ReasonIPv4BadChecksum
		}
	case ChecksumVerifyNonZero:
		if v.Checksum() != 0 && !v.ChecksumValid() {
			return nil, ReasonIPv4BadChecksum
		}
	}
	tl := int(v.TotalLength())
	if tl > len(b) || tl < hl {
		return nil, ReasonIPv4BadLength
	}
	return v[:tl], ReasonNone
}

// Version returns the version nibble.
func (b IPv4) Version() uint8 { return b[ipv4VersionIHL] >> 4 }

// HeaderLen returns the header length in bytes (IHL * 4).
func (b IPv4) HeaderLen() int { return int(b[ipv4VersionIHL]&0x0f) * 4 }

// TOS returns the type-of-service (DSCP and ECN) byte.
func (b IPv4) TOS() uint8 { return b[ipv4TOS] }

// TotalLength returns the total length field.
func (b IPv4) TotalLength() uint16 { return binary.BigEndian.Uint16(b[ipv4TotalLen:]) }

// ID returns the identification field.
func (b IPv4) ID() uint16 { return binary.BigEndian.Uint16(b[ipv4ID:]) }

// Flags returns the flag bits (IPv4FlagDF, IPv4FlagMF) in place.
func (b IPv4) Flags() uint16 { return binary.BigEndian.Uint16(b[ipv4FlagsFrag:]) &^ ipv4FragOffsetMask }

// FragmentOffset returns the fragment offset in bytes.
func (b IPv4) FragmentOffset() uint16 {
	return (binary.BigEndian.Uint16(b[ipv4FlagsFrag:]) & ipv4FragOffsetMask) * 8
}

// More reports the more-fragments flag.
func (b IPv4) More() bool { return b.Flags()&IPv4FlagMF != 0 }

// IsFragment reports whether the packet is a fragment (MF set or offset
// nonzero), as Linux's ip_is_fragment does.
func (b IPv4) IsFragment() bool {
	return binary.BigEndian.Uint16(b[ipv4FlagsFrag:])&(IPv4FlagMF|ipv4FragOffsetMask) != 0
}

// TTL returns the time-to-live.
func (b IPv4) TTL() uint8 { return b[ipv4TTL] }

// Protocol returns the transport protocol number.
func (b IPv4) Protocol() uint8 { return b[ipv4Protocol] }

// Checksum returns the header checksum field.
func (b IPv4) Checksum() uint16 { return binary.BigEndian.Uint16(b[ipv4Checksum:]) }

// Source returns the source address.
func (b IPv4) Source() [4]byte { return [4]byte(b[ipv4Src : ipv4Src+4]) }

// Destination returns the destination address.
func (b IPv4) Destination() [4]byte { return [4]byte(b[ipv4Dst : ipv4Dst+4]) }

// Options returns the option bytes.
func (b IPv4) Options() []byte { return b[IPv4MinSize:b.HeaderLen()] }

// Payload returns the bytes after the header, up to the total length.
func (b IPv4) Payload() []byte { return b[b.HeaderLen():] }

// ChecksumValid reports whether the header checksum is correct.
func (b IPv4) ChecksumValid() bool {
	if len(b) >= IPv4MinSize && b.HeaderLen() == IPv4MinSize {
		return headerSum20(b) == 0xffff
	}
	return Checksum(b[:b.HeaderLen()], 0) == 0xffff
}

// headerSum20 is Checksum(b[:20], 0), unrolled for the option-less IPv4
// header every packet carries.
func headerSum20(b []byte) uint16 {
	x, y := binary.BigEndian.Uint64(b), binary.BigEndian.Uint64(b[8:])
	sum := x>>32 + x&0xffffffff + y>>32 + y&0xffffffff + uint64(binary.BigEndian.Uint32(b[16:20]))
	// sum < 2^35: three 16-bit folds bring it to at most 0xffff.
	sum = sum>>16 + sum&0xffff // < 2^20
	sum = sum>>16 + sum&0xffff // <= 0x1000e
	sum = sum>>16 + sum&0xffff
	return uint16(sum)
}

// SetChecksum recomputes and stores the header checksum.
func (b IPv4) SetChecksum() {
	b[ipv4Checksum], b[ipv4Checksum+1] = 0, 0
	binary.BigEndian.PutUint16(b[ipv4Checksum:], ^Checksum(b[:b.HeaderLen()], 0))
}

// OptionsValid walks the options as Linux's ip_options_compile does for a
// received packet: an option other than END and NOP needs a length byte
// of at least 2 that stays inside the header; record-route, source-route
// and timestamp options need a sane pointer and appear at most once;
// router alert is 4 bytes. Options Linux does not interpret (security,
// stream id, ...) pass with any valid length. END ends the walk.
func (b IPv4) OptionsValid() bool {
	opts := b.Options()
	var seenRR, seenSRR, seenTS bool
	for i := 0; i < len(opts); {
		switch opts[i] {
		case ipv4OptEnd:
			return true
		case ipv4OptNOP:
			i++
			continue
		}
		left := len(opts) - i
		if left < 2 {
			return false
		}
		n := int(opts[i+1])
		if n < 2 || n > left {
			return false
		}
		o := opts[i : i+n]
		switch o[0] {
		case ipv4OptLSRR, ipv4OptSSRR:
			if seenSRR || n < 3 || o[2] < 4 {
				return false
			}
			seenSRR = true
		case ipv4OptRR:
			if seenRR || n < 3 || o[2] < 4 {
				return false
			}
			if int(o[2]) <= n && int(o[2])+3 > n {
				return false
			}
			seenRR = true
		case ipv4OptTimestamp:
			if seenTS || n < 4 || o[2] < 5 {
				return false
			}
			if int(o[2]) <= n {
				if int(o[2])+3 > n {
					return false
				}
				switch o[3] & 0x0f {
				case 1, 3: // address + timestamp pairs
					if int(o[2])+7 > n {
						return false
					}
				}
			} else if o[3]&0xf0 == 0xf0 { // overflow counter would wrap
				return false
			}
			seenTS = true
		case ipv4OptRA:
			if n < 4 {
				return false
			}
		}
		i += n
	}
	return true
}

// Checksum adds b to the ones'-complement sum initial and returns the
// folded 16-bit sum (not complemented); a correct header sums to 0xffff.
func Checksum(b []byte, initial uint32) uint16 {
	// Sum big-endian 32-bit words: each is congruent to the sum of its two
	// 16-bit halves modulo 0xffff, which is all a ones'-complement sum
	// keeps. 64 bits cannot overflow below 2^32 words.
	sum := uint64(initial)
	for len(b) >= 8 {
		v := binary.BigEndian.Uint64(b)
		sum += v>>32 + v&0xffffffff
		b = b[8:]
	}
	if len(b) >= 4 {
		sum += uint64(binary.BigEndian.Uint32(b))
		b = b[4:]
	}
	if len(b) >= 2 {
		sum += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint64(b[0]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return uint16(sum)
}
