package ftp

// Address text parsing with the acceptance rules of the kernel's in6_pton
// and in4_pton (net/core/utils.c), which Linux's FTP helper uses for EPRT:
// a character class per byte, and a set of classes the state machine
// accepts next. A NUL byte or the end of the data ends the address like
// the delimiter does.

// Character classes and parser states (bit sets).
const (
	clsXDigit   = 1 << 16
	clsDigit    = 1 << 17
	clsColon1   = 1 << 20 // a single ':' may follow
	clsColon2   = 1 << 21 // the second ':' of "::" may follow
	clsColon12  = 1 << 22 // ':' may follow, and "::" after it
	clsColons   = clsColon1 | clsColon2 | clsColon12
	clsDot      = 1 << 23
	clsDelim    = 1 << 28
	clsNull     = 1 << 29 // the next separator ends no group (after a leading ':' or a full "::")
	clsUnknown  = 1 << 30
	clsValueBit = 0xff
)

// classify returns c's class, with its hex value in the low bits.
func classify(c, delim byte) int {
	switch {
	case c == delim || c == 0:
		return clsDelim
	case c == ':':
		return clsColons
	case c == '.':
		return clsDot
	case c >= '0' && c <= '9':
		return int(c-'0') | clsXDigit | clsDigit
	case c >= 'a' && c <= 'f':
		return int(c-'a'+10) | clsXDigit
	case c >= 'A' && c <= 'F':
		return int(c-'A'+10) | clsXDigit
	}
	return clsUnknown
}

// at returns data[i], or 0 past the end.
func at(data []byte, i int) byte {
	if i < len(data) {
		return data[i]
	}
	return 0
}

// parseIPv4 reads a dotted quad ended by delim, ':' or NUL/end into out.
// It returns the offset of the end and whether it parsed.
func parseIPv4(data []byte, delim byte, out []byte) (int, bool) {
	var buf [4]byte
	s, i, w, seen := 0, 0, 0, false
	for {
		c := classify(at(data, s), delim)
		if c&(clsDigit|clsDot|clsDelim|clsColons) == 0 {
			return s, false
		}
		if c&(clsDot|clsDelim|clsColons) != 0 {
			if !seen || i >= len(buf) {
				return s, false
			}
			buf[i] = byte(w)
			w, seen = 0, false
			i++
			if c&(clsDelim|clsColons) != 0 {
				if i != 4 {
					return s, false
				}
				break
			}
		} else {
			w = w*10 + c&clsValueBit
			seen = true
			if w > 255 {
				return s, false
			}
		}
		if i >= 4 {
			return s, false
		}
		s++
	}
	if len(out) < len(buf) {
		return s, false
	}
	copy(out, buf[:])
	return s, true
}

// parseIPv6 reads an IPv6 address ended by delim (or NUL/end) into dst
// and returns the length read, 0 when it does not parse. dst is written
// only on success.
func parseIPv6(data []byte, delim byte, dst *[16]byte) int {
	var buf [16]byte
	s, d, dc := 0, 0, -1 // dc: where "::" was, -1 if none
	tok := -1            // start of the current group
	w := 0
	state := clsColon12 | clsXDigit | clsNull
loop:
	for {
		c := classify(at(data, s), delim)
		if c&state == 0 {
			return 0
		}
		switch {
		case c&(clsDelim|clsColons) != 0:
			if state&clsNull == 0 {
				if d+2 > len(buf) {
					return 0
				}
				buf[d], buf[d+1] = byte(w>>8), byte(w)
				d += 2
			}
			w = 0
			if c&clsDelim != 0 {
				break loop
			}
			switch state & clsColons {
			case clsColon2:
				dc = d
				state = clsXDigit | clsDelim
				if dc >= len(buf) {
					state |= clsNull
				}
			case clsColon1 | clsColon12:
				state = clsXDigit | clsColon2
			case clsColon1:
				state = clsXDigit
			case clsColon12:
				state = clsColon2
			default:
				state = 0
			}
			tok = s + 1
		case c&clsDot != 0:
			start := tok
			if start < 0 {
				start = s
			}
			if d+4 > len(buf) {
				return 0
			}
			n, ok := parseIPv4(data[start:], delim, buf[d:d+4])
			if !ok {
				return 0
			}
			s = start + n
			d += 4
			break loop
		default: // a hex digit
			w = w<<4 | c&clsValueBit
			state = clsColon1 | clsDelim
			if w&0xf000 == 0 {
				state |= clsXDigit
			}
			if dc < 0 && d+2 < len(buf) {
				state |= clsColon12
				state &^= clsDelim
			}
			if d+2 >= len(buf) {
				state &^= clsColon1 | clsColon12
			}
		}
		if (dc >= 0 && d+4 < len(buf)) || d+4 == len(buf) {
			state |= clsDot
		}
		if d >= len(buf) {
			state &^= clsXDigit | clsColons
		}
		s++
	}
	if s == 0 {
		return 0
	}
	if dc < 0 {
		if d != len(buf) {
			return 0
		}
		*dst = buf
		return s
	}
	// Expand "::": the groups after it go to the end, zeros between.
	var out [16]byte
	tail := d - dc
	copy(out[:dc], buf[:dc])
	copy(out[len(out)-tail:], buf[dc:d])
	*dst = out
	return s
}
