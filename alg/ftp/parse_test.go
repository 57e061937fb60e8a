package ftp

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/flowtable/ctstate"
)

func addr(s string) [16]byte {
	a := netip.MustParseAddr(s)
	var r [16]byte
	if a.Is4() {
		b := a.As4()
		copy(r[:], b[:])
		return r
	}
	return a.As16()
}

type parseCase struct {
	name    string
	payload string
	dir     ctstate.Dir
	family  packet.Family
	sender  string
	match   Match
	kind    Kind
	addr    string // "" when Match is not MatchFound; "raw:" prefix not used
	port    uint16
}

var (
	cli4 = "192.168.0.13"
	srv4 = "172.23.0.2"
	cli6 = "fd00:10:16:1::3"
	srv6 = "fd00:10:16:1::2"
	o    = ctstate.Original
	r    = ctstate.Reply
	f4   = packet.FamilyIPv4
	f6   = packet.FamilyIPv6
)

var parseCases = []parseCase{
	// PORT
	{"port", "PORT 192,168,0,13,234,10\r\n", o, f4, cli4, MatchFound, KindPORT, "192.168.0.13", 59914},
	{"port lower case", "port 192,168,0,13,234,10\r\n", o, f4, cli4, MatchFound, KindPORT, "192.168.0.13", 59914},
	{"port mixed case", "PoRt 1,2,3,4,0,80\r\n", o, f4, cli4, MatchFound, KindPORT, "1.2.3.4", 80},
	{"port empty number is 0", "PORT 1,,3,4,0,21\r\n", o, f4, cli4, MatchFound, KindPORT, "1.0.3.4", 21},
	{"port leading zeros", "PORT 010,000,0,1,000,021\r", o, f4, cli4, MatchFound, KindPORT, "10.0.0.1", 21},
	{"port text after CR", "PORT 1,2,3,4,5,6\rjunk", o, f4, cli4, MatchFound, KindPORT, "1.2.3.4", 1286},
	{"port prefix P", "P", o, f4, cli4, MatchPartial, KindPORT, "", 0},
	{"port prefix por", "por", o, f4, cli4, MatchPartial, KindPORT, "", 0},
	{"port bare", "PORT", o, f4, cli4, MatchPartial, KindPORT, "", 0},
	{"port 1234", "PORT 1234\r\n", o, f4, cli4, MatchPartial, KindPORT, "", 0},
	{"port overlong", "PORT 1234123412341234123412341234123412341234123412341234123412341234\r\n", o, f4, cli4, MatchPartial, KindPORT, "", 0},
	{"port two numbers", "PORT 114,115\r\n", o, f4, cli4, MatchPartial, KindPORT, "", 0},
	{"port no space", "PORTABLE\r\n", o, f4, cli4, MatchPartial, KindPORT, "", 0},
	{"port space at end", "PORT ", o, f4, cli4, MatchPartial, KindPORT, "", 0},
	{"port no CR", "PORT 1,2,3,4,5,6", o, f4, cli4, MatchPartial, KindPORT, "", 0},
	{"port LF only", "PORT 1,2,3,4,5,6\n", o, f4, cli4, MatchPartial, KindPORT, "", 0},
	{"port seven numbers", "PORT 1,2,3,4,5,6,7\r\n", o, f4, cli4, MatchPartial, KindPORT, "", 0},
	{"port number above 255", "PORT 10,0,1,2,256,22\r\n", o, f4, cli4, MatchPartial, KindPORT, "", 0},
	{"port two spaces", "PORT  1,2,3,4,5,6\r\n", o, f4, cli4, MatchPartial, KindPORT, "", 0},
	{"port split in the numbers", "PORT 192,168,0,", o, f4, cli4, MatchPartial, KindPORT, "", 0},
	{"user", "USER anonymous\r\n", o, f4, cli4, MatchNone, KindNone, "", 0},
	{"pasv command", "PASV\r\n", o, f4, cli4, MatchNone, KindNone, "", 0},
	{"port not at start", " PORT 1,2,3,4,5,6\r\n", o, f4, cli4, MatchNone, KindNone, "", 0},
	{"empty", "", o, f4, cli4, MatchNone, KindNone, "", 0},
	{"port on ipv6 overwrites 4 bytes", "PORT 253,0,0,16,0,80\r\n", o, f6, cli6, MatchFound, KindPORT, "fd00:0010:16:1::3", 80},
	{"port on ipv6 foreign", "PORT 1,2,3,4,0,80\r\n", o, f6, cli6, MatchFound, KindPORT, "102:304:16:1::3", 80},

	// EPRT
	{"eprt v4", "EPRT |1|192.168.0.13|59914|\r\n", o, f4, cli4, MatchFound, KindEPRT, "192.168.0.13", 59914},
	{"eprt v4 other delimiter", "eprt !1!1.2.3.4!80!", o, f4, cli4, MatchFound, KindEPRT, "1.2.3.4", 80},
	{"eprt prefix", "EP", o, f4, cli4, MatchPartial, KindEPRT, "", 0},
	{"eprt bare", "EPRT", o, f4, cli4, MatchPartial, KindEPRT, "", 0},
	{"eprt v6 over v4", "EPRT |2|2601:191:8500:2e00:7c0f:78e0:dc5b:f7c1|34325|\r\n", o, f4, cli4, MatchPartial, KindEPRT, "", 0},
	{"eprt v4 over v6", "EPRT |1|1.2.3.4|80|\r\n", o, f6, cli6, MatchPartial, KindEPRT, "", 0},
	{"eprt protocol 3", "EPRT |3|1.2.3.4|80|\r\n", o, f4, cli4, MatchPartial, KindEPRT, "", 0},
	{"eprt digit delimiter", "EPRT 717171.2.3.47807\r\n", o, f4, cli4, MatchPartial, KindEPRT, "", 0},
	{"eprt space delimiter", "EPRT  1 1.2.3.4 80 \r\n", o, f4, cli4, MatchPartial, KindEPRT, "", 0},
	{"eprt port 0", "EPRT |1|1.2.3.4|0|\r\n", o, f4, cli4, MatchPartial, KindEPRT, "", 0},
	{"eprt port 65536", "EPRT |1|1.2.3.4|65536|\r\n", o, f4, cli4, MatchPartial, KindEPRT, "", 0},
	{"eprt port 65535", "EPRT |1|1.2.3.4|65535|\r\n", o, f4, cli4, MatchFound, KindEPRT, "1.2.3.4", 65535},
	{"eprt no closing delimiter", "EPRT |1|1.2.3.4|80\r\n", o, f4, cli4, MatchPartial, KindEPRT, "", 0},
	{"eprt short", "EPRT |1|", o, f4, cli4, MatchPartial, KindEPRT, "", 0},
	{"eprt octet above 255", "EPRT |1|1.2.3.400|80|\r\n", o, f4, cli4, MatchPartial, KindEPRT, "", 0},
	{"eprt v6", "EPRT |2|fd00:10:16:1::3|40467|\r\n", o, f6, cli6, MatchFound, KindEPRT, cli6, 40467},
	{"eprt v6 upper case", "EPRT |2|FD00:10:16:1::3|40467|\r\n", o, f6, cli6, MatchFound, KindEPRT, cli6, 40467},
	{"eprt v6 full", "EPRT |2|1:2:3:4:5:6:7:8|80|\r\n", o, f6, cli6, MatchFound, KindEPRT, "1:2:3:4:5:6:7:8", 80},
	{"eprt v6 any", "EPRT |2|::|80|\r\n", o, f6, cli6, MatchFound, KindEPRT, "::", 80},
	{"eprt v6 leading ::", "EPRT |2|::2:3:4:5:6:7:8|80|\r\n", o, f6, cli6, MatchFound, KindEPRT, "::2:3:4:5:6:7:8", 80},
	{"eprt v6 trailing ::", "EPRT |2|1:2:3:4:5:6:7::|80|\r\n", o, f6, cli6, MatchFound, KindEPRT, "1:2:3:4:5:6:7:0", 80},
	{"eprt v6 mapped v4", "EPRT |2|::ffff:1.2.3.4|80|\r\n", o, f6, cli6, MatchFound, KindEPRT, "::ffff:1.2.3.4", 80},
	{"eprt v6 nine groups", "EPRT |2|1:2:3:4:5:6:7:8:9|80|\r\n", o, f6, cli6, MatchPartial, KindEPRT, "", 0},
	{"eprt v6 two ::", "EPRT |2|1::2::3|80|\r\n", o, f6, cli6, MatchPartial, KindEPRT, "", 0},
	{"eprt v6 five digits", "EPRT |2|12345::|80|\r\n", o, f6, cli6, MatchPartial, KindEPRT, "", 0},
	{"eprt v6 seven groups", "EPRT |2|1:2:3:4:5:6:7|80|\r\n", o, f6, cli6, MatchPartial, KindEPRT, "", 0},
	{"eprt v6 zone", "EPRT |2|fe80::1%eth0|80|\r\n", o, f6, cli6, MatchPartial, KindEPRT, "", 0},
	{"eprt v6 empty", "EPRT |2||80|\r\n", o, f6, cli6, MatchPartial, KindEPRT, "", 0},

	// 227
	{"227", "227 Entering passive mode (172,23,0,2,82,16).\r\n", r, f4, srv4, MatchFound, KindPASV, "172.23.0.2", 21008},
	{"227 no parentheses", "227 =172,23,0,2,82,16\r\n", r, f4, srv4, MatchFound, KindPASV, "172.23.0.2", 21008},
	{"227 ends at last number", "227 Entering Passive Mode 172,23,0,2,82,16", r, f4, srv4, MatchPartial, KindPASV, "", 0},
	{"227 overlong", "227 " + strings.Repeat("A", 66) + "\r\n", r, f4, srv4, MatchPartial, KindPASV, "", 0},
	{"227 no numbers", "227 Response to PASV command\r\n", r, f4, srv4, MatchPartial, KindPASV, "", 0},
	{"227 five numbers", "227 Entering Passive Mode (1,2,3,4,5)\r\n", r, f4, srv4, MatchPartial, KindPASV, "", 0},
	{"227 prefix", "22", r, f4, srv4, MatchPartial, KindPASV, "", 0},
	{"227 no space", "227", r, f4, srv4, MatchPartial, KindPASV, "", 0},
	{"227 dash", "227-multi\r\n", r, f4, srv4, MatchNone, KindNone, "", 0},
	{"220", "220 Welcome\r\n", r, f4, srv4, MatchNone, KindNone, "", 0},
	{"port from server", "PORT 1,2,3,4,5,6\r\n", r, f4, srv4, MatchNone, KindNone, "", 0},
	{"227 from client", "227 (1,2,3,4,5,6)\r\n", o, f4, cli4, MatchNone, KindNone, "", 0},

	// 229
	{"229", "229 Entering Extended Passive Mode (|||58612|)\r\n", r, f4, srv4, MatchFound, KindEPSV, srv4, 58612},
	{"229 v6", "229 Entering extended passive mode (|||21008|).\r\n", r, f6, srv6, MatchFound, KindEPSV, srv6, 21008},
	{"229 other delimiter", "229 (!!!1!)", r, f4, srv4, MatchFound, KindEPSV, srv4, 1},
	{"229 prefix", "229", r, f4, srv4, MatchPartial, KindEPSV, "", 0},
	{"229 port 0", "229 (|||0|)\r\n", r, f4, srv4, MatchPartial, KindEPSV, "", 0},
	{"229 two delimiters", "229 Entering (||58612|)\r\n", r, f4, srv4, MatchPartial, KindEPSV, "", 0},
	{"229 no parenthesis", "229 Entering Extended Passive Mode\r\n", r, f4, srv4, MatchPartial, KindEPSV, "", 0},
	{"229 mixed delimiters", "229 (|!|80|)\r\n", r, f4, srv4, MatchPartial, KindEPSV, "", 0},
}

func TestParse(t *testing.T) {
	for _, c := range parseCases {
		t.Run(c.name, func(t *testing.T) {
			cmd, m := Parse([]byte(c.payload), c.dir, c.family, addr(c.sender))
			if m != c.match {
				t.Fatalf("Parse(%q) = %v, want %v", c.payload, m, c.match)
			}
			if m == MatchNone {
				return
			}
			if cmd.Kind != c.kind {
				t.Errorf("kind %v, want %v", cmd.Kind, c.kind)
			}
			if m != MatchFound {
				return
			}
			if want := addr(c.addr); cmd.Addr != want || cmd.Port != c.port {
				t.Errorf("announced %v port %d, want %s port %d", cmd.Addr, cmd.Port, c.addr, c.port)
			}
		})
	}
}

func TestParseNoAllocs(t *testing.T) {
	for _, c := range parseCases {
		payload, sender := []byte(c.payload), addr(c.sender)
		if n := testing.AllocsPerRun(100, func() { Parse(payload, c.dir, c.family, sender) }); n != 0 {
			t.Errorf("%s: %v allocs", c.name, n)
		}
	}
}

func TestParseIPv6MatchesNetip(t *testing.T) {
	for _, s := range []string{
		"::", "::1", "1::", "1::2", "fe80::1:2", "2001:db8::ff00:42:8329", "1:2:3:4:5:6:7:8",
		"::ffff:192.0.2.1", "1:2:3:4:5:6:1.2.3.4", "::2:3:4:5:6:7:8", "1:2:3:4:5:6:7::",
		"1::3:4:5:6:7:8", "1:2::4:5:6:7:8", "abcd:EF01::", "0:0:0:0:0:0:0:0",
	} {
		var got [16]byte
		n := parseIPv6([]byte(s+"|"), '|', &got)
		if n != len(s) {
			t.Errorf("%s: parsed %d bytes, want %d", s, n, len(s))
			continue
		}
		if want := netip.MustParseAddr(s).As16(); got != want {
			t.Errorf("%s: got %v, want %v", s, got, want)
		}
	}
}

func TestKindAndMatchString(t *testing.T) {
	if KindPORT.String() != "PORT" || KindEPSV.String() != "EPSV" || Kind(99).String() != "unknown" {
		t.Error("Kind.String")
	}
	if MatchPartial.String() != "partial" || Match(9).String() != "unknown" {
		t.Error("Match.String")
	}
}

func BenchmarkParsePORT(b *testing.B) {
	p := []byte("PORT 192,168,0,13,234,10\r\n")
	s := addr(cli4)
	b.ReportAllocs()
	for b.Loop() {
		Parse(p, o, f4, s)
	}
}

func BenchmarkParseEPRT6(b *testing.B) {
	p := []byte("EPRT |2|2001:470:1f11:81f:c999:d94:aa7c:2e3e|49189|\r\n")
	s := addr("2001:470:1f11:81f:c999:d94:aa7c:2e3e")
	b.ReportAllocs()
	for b.Loop() {
		Parse(p, o, f6, s)
	}
}

func BenchmarkParseOther(b *testing.B) {
	p := []byte("150 Opening BINARY mode data connection for file (1048576 bytes).\r\n")
	s := addr(srv4)
	b.ReportAllocs()
	for b.Loop() {
		Parse(p, r, f4, s)
	}
}
