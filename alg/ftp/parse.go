package ftp

import (
	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/flowtable/ctstate"
)

// Kind names the FTP command or reply that announces a data connection.
type Kind uint8

// Announcements the helper understands.
const (
	KindNone Kind = iota
	KindPORT      // client: PORT h1,h2,h3,h4,p1,p2
	KindEPRT      // client: EPRT |1|a.b.c.d|port| or |2|ipv6|port|
	KindPASV      // server: 227 reply to PASV
	KindEPSV      // server: 229 reply to EPSV
)

var kindNames = [...]string{KindNone: "", KindPORT: "PORT", KindEPRT: "EPRT", KindPASV: "PASV", KindEPSV: "EPSV"}

// String returns the command's name ("PORT", "EPRT", "PASV", "EPSV").
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Match is the outcome of parsing the start of a segment.
type Match uint8

// Parse outcomes, as Linux's find_pattern returns them.
const (
	MatchNone    Match = iota // no announcement: the segment passes
	MatchFound                // a complete announcement: Command is valid
	MatchPartial              // a strict prefix of a command, or a command whose numbers do not parse: drop
)

var matchNames = [...]string{MatchNone: "none", MatchFound: "found", MatchPartial: "partial"}

// String returns "none", "found" or "partial".
func (m Match) String() string {
	if int(m) < len(matchNames) {
		return matchNames[m]
	}
	return "unknown"
}

// Command is a parsed announcement: a data connection to Addr:Port.
// IPv4 addresses occupy the first 4 bytes of Addr, as in packet.Tuple.
type Command struct {
	Kind Kind
	Addr [16]byte
	Port uint16
}

// pattern is one command the helper looks for at the start of a segment,
// as in the kernel's search table: the literal, the character to skip to
// before the numbers (0: none), and the character that must end them
// (0: any non-number).
type pattern struct {
	text string // upper case
	skip byte
	term byte
	kind Kind
}

// patterns holds, per direction (Original, Reply), the commands in the
// order they are tried. Read-only.
var patterns = [2][2]pattern{
	{ // client to server
		{text: "PORT", skip: ' ', term: '\r', kind: KindPORT},
		{text: "EPRT", skip: ' ', term: '\r', kind: KindEPRT},
	},
	{ // server to client
		{text: "227 ", kind: KindPASV},
		{text: "229 ", skip: '(', term: ')', kind: KindEPSV},
	},
}

// Parse reads the announcement at the start of payload, a segment sent in
// direction dir of an FTP control connection of the given family. sender
// is the sender's own address on the control connection: an EPSV reply
// names no address and announces sender, and a PORT or 227 on an IPv6
// connection overwrites only the first 4 bytes of it, as Linux does.
// It follows Linux's nf_conntrack_ftp parsing rules, with the stricter
// number ranges netfilter adopted in 2026 (a number above 255 or a port
// above 65535 does not parse, where Linux 6.18 lets it wrap). It never
// allocates.
func Parse(payload []byte, dir ctstate.Dir, family packet.Family, sender [16]byte) (Command, Match) {
	d := 0
	if dir == ctstate.Reply {
		d = 1
	}
	if len(payload) == 0 {
		return Command{}, MatchNone
	}
	first := payload[0]
	if first >= 'a' && first <= 'z' {
		first -= 'a' - 'A'
	}
	for i := range patterns[d] {
		p := &patterns[d][i]
		if first != p.text[0] {
			continue // the common case: a line that is no announcement
		}
		cmd := Command{Kind: p.kind, Addr: sender}
		if m := findPattern(payload, p, family, &cmd); m != MatchNone {
			return cmd, m
		}
	}
	return Command{}, MatchNone
}

// findPattern matches p case-insensitively at the start of data and
// parses its numbers into cmd.
func findPattern(data []byte, p *pattern, family packet.Family, cmd *Command) Match {
	plen := len(p.text)
	if len(data) <= plen {
		// A short segment that could be the start of the command is
		// partial: dropping it makes the sender retransmit it whole.
		if len(data) > 0 && equalFold(data, p.text[:len(data)]) {
			return MatchPartial
		}
		return MatchNone
	}
	if !equalFold(data[:plen], p.text) {
		return MatchNone
	}
	i := plen
	if p.skip != 0 {
		for data[i] != p.skip {
			if i == len(data)-1 {
				return MatchPartial
			}
			i++
		}
		i++
	}
	if getNumbers(data[i:], p, family, cmd) == 0 {
		return MatchPartial
	}
	return MatchFound
}

// getNumbers parses what follows the command and returns the length
// consumed, 0 when it does not parse.
func getNumbers(data []byte, p *pattern, family packet.Family, cmd *Command) int {
	switch p.kind {
	case KindPORT:
		return tryRFC959(data, p.term, cmd)
	case KindEPRT:
		return tryEPRT(data, family, cmd)
	case KindPASV:
		return tryRFC1123(data, cmd)
	case KindEPSV:
		return tryEPSV(data, cmd)
	}
	return 0
}

// equalFold compares data with upper-case ASCII text, ignoring the case
// of data's letters.
func equalFold(data []byte, text string) bool {
	if len(data) != len(text) {
		return false
	}
	for i := range len(data) {
		c := data[i]
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c != text[i] {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// tryNumber reads len(out) decimal numbers separated by sep and ended by
// term (any character that is neither digit nor sep when term is 0). It
// returns the length up to the terminator, or 0.
func tryNumber(data []byte, out []uint32, sep, term byte) int {
	clear(out)
	i := 0
	for n := 0; n < len(data) && i < len(out); n++ {
		c := data[n]
		switch {
		case isDigit(c):
			out[i] = out[i]*10 + uint32(c-'0')
			if out[i] > 255 {
				return 0
			}
		case c == sep:
			i++
		default:
			if (c == term || term == 0) && i == len(out)-1 {
				return n
			}
			return 0
		}
	}
	return 0
}

// tryRFC959 reads "h1,h2,h3,h4,p1,p2" ended by term.
func tryRFC959(data []byte, term byte, cmd *Command) int {
	var a [6]uint32
	n := tryNumber(data, a[:], ',', term)
	if n == 0 {
		return 0
	}
	cmd.Addr[0], cmd.Addr[1], cmd.Addr[2], cmd.Addr[3] = byte(a[0]), byte(a[1]), byte(a[2]), byte(a[3])
	cmd.Port = uint16(a[4]<<8 | a[5])
	return n
}

// tryRFC1123 reads a 227 reply: RFC 1123 says to scan for the first digit
// (the parentheses are optional), then six numbers.
func tryRFC1123(data []byte, cmd *Command) int {
	for i, c := range data {
		if isDigit(c) {
			return tryRFC959(data[i:], 0, cmd)
		}
	}
	return 0
}

// getPort reads a port number from data[start:] up to delim and returns
// it with the offset after delim, or 0, 0. A zero port does not parse.
func getPort(data []byte, start int, delim byte) (uint16, int) {
	var p uint32
	for i := start; i < len(data); i++ {
		c := data[i]
		switch {
		case c == delim:
			if p == 0 {
				return 0, 0
			}
			return uint16(p), i + 1
		case isDigit(c):
			p = p*10 + uint32(c-'0')
			if p > 65535 {
				return 0, 0
			}
		default:
			return 0, 0
		}
	}
	return 0, 0
}

// validDelim reports whether c may delimit EPRT/EPSV fields: printable,
// not a space, not a digit.
func validDelim(c byte) bool { return c >= 33 && c <= 126 && !isDigit(c) }

// tryEPRT reads "|1|a.b.c.d|port|" or "|2|ipv6|port|" (any valid
// delimiter). The protocol number must match the connection's family.
func tryEPRT(data []byte, family packet.Family, cmd *Command) int {
	if len(data) <= 3 {
		return 0
	}
	delim := data[0]
	if !validDelim(delim) || data[2] != delim {
		return 0
	}
	var length int
	switch {
	case family == packet.FamilyIPv4 && data[1] == '1':
		var a [4]uint32
		length = tryNumber(data[3:], a[:], '.', delim)
		if length != 0 {
			cmd.Addr[0], cmd.Addr[1], cmd.Addr[2], cmd.Addr[3] = byte(a[0]), byte(a[1]), byte(a[2]), byte(a[3])
		}
	case family == packet.FamilyIPv6 && data[1] == '2':
		length = parseIPv6(data[3:], delim, &cmd.Addr)
	default:
		return 0
	}
	if length == 0 {
		return 0
	}
	port, n := getPort(data, 3+length+1, delim)
	if n == 0 {
		return 0
	}
	cmd.Port = port
	return n
}

// tryEPSV reads a 229 reply's "|||port|": the address is the server's own.
func tryEPSV(data []byte, cmd *Command) int {
	if len(data) <= 3 {
		return 0
	}
	delim := data[0]
	if !validDelim(delim) || data[1] != delim || data[2] != delim {
		return 0
	}
	port, n := getPort(data, 3, delim)
	if n == 0 {
		return 0
	}
	cmd.Port = port
	return n
}
