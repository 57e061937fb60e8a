package ftp

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/statewall/statewall/alg"
	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/flowtable/ctstate"
)

// FuzzParse checks that Parse never panics and that what it reports is
// consistent with the payload. Seeds: parseCases and testdata/fuzz.
func FuzzParse(f *testing.F) {
	for _, c := range parseCases {
		f.Add([]byte(c.payload), c.dir == ctstate.Reply, c.family == packet.FamilyIPv6)
	}
	sender4, sender6 := addr("10.1.2.3"), addr("2001:db8::7")
	f.Fuzz(func(t *testing.T, payload []byte, reply, v6 bool) {
		dir, fam, sender := ctstate.Original, packet.FamilyIPv4, sender4
		if reply {
			dir = ctstate.Reply
		}
		if v6 {
			fam, sender = packet.FamilyIPv6, sender6
		}
		cmd, m := Parse(payload, dir, fam, sender)
		if m == MatchNone {
			if cmd != (Command{}) {
				t.Fatalf("no match but command %+v", cmd)
			}
			return
		}
		// Something matched: the payload starts with (a prefix of) a
		// command of this direction.
		text := strings.ToUpper(string(payload[:min(len(payload), 4)]))
		ok := false
		for _, p := range patterns[dir] {
			if strings.HasPrefix(p.text, text) {
				ok = ok || p.kind == cmd.Kind
			}
		}
		if !ok {
			t.Fatalf("%v %v on %q", m, cmd.Kind, payload)
		}
		if m != MatchFound {
			return
		}
		switch cmd.Kind {
		case KindEPSV:
			if cmd.Addr != sender || cmd.Port == 0 {
				t.Fatalf("EPSV %+v", cmd)
			}
		case KindEPRT:
			if cmd.Port == 0 {
				t.Fatalf("EPRT port 0 from %q", payload)
			}
		}
		if !v6 && [12]byte(cmd.Addr[4:]) != ([12]byte{}) {
			t.Fatalf("IPv4 announcement with a non-zero tail: %v", cmd.Addr)
		}
		if v6 && cmd.Kind != KindEPRT && [12]byte(cmd.Addr[4:]) != [12]byte(sender[4:]) {
			t.Fatalf("%v on IPv6 changed more than 4 bytes: %v", cmd.Kind, cmd.Addr)
		}
	})
}

// FuzzParseIPv6 checks the in6_pton-style parser against net/netip: every
// address netip accepts (without zone) parses to the same bytes.
func FuzzParseIPv6(f *testing.F) {
	for _, s := range []string{"::", "::1", "1::", "2001:db8::1", "::ffff:1.2.3.4", "1:2:3:4:5:6:7:8",
		"1:2:3:4:5::1.2.3.4", "::1:2:3:4:5:6:7", "1:2::", "00001::", "1.2.3.4", ":::", "1::2::3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if strings.ContainsAny(s, "|\x00") {
			return
		}
		var got [16]byte
		n := parseIPv6([]byte(s+"|"), '|', &got)
		if n < 0 || n > len(s) {
			t.Fatalf("%q: length %d", s, n)
		}
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Is6() || a.Zone() != "" {
			return
		}
		if n != len(s) || got != a.As16() {
			t.Fatalf("%q: parsed %d bytes to %v, netip says %v", s, n, netip.AddrFrom16(got), a)
		}
	})
}

// FuzzInspect feeds a control connection cut into segments at arbitrary
// places to the helper: it must never panic and only pass or drop.
func FuzzInspect(f *testing.F) {
	f.Add([]byte("220 hi\r\nUSER a\r\n331 pw\r\nPORT 10,0,0,1,19,137\r\n227 (10,0,0,2,4,1)\r\n"), []byte{8, 8, 8, 5, 20})
	f.Add([]byte("220 hi\r\nEPRT |1|10.0.0.1|80|\r\n229 (|||99|)\r\n"), []byte{3, 3, 1, 200})
	f.Fuzz(func(t *testing.T, stream, cuts []byte) {
		x := alg.NewExpectations(4)
		s := newSession(t, New(x, Config{}), "10.0.0.1", "10.0.0.2", 0xfffffff0, 7)
		for i := 0; len(stream) > 0; i++ {
			n := len(stream)
			if i < len(cuts) && int(cuts[i]) > 0 && int(cuts[i]) < n {
				n = int(cuts[i])
			}
			dir := ctstate.Dir(i & 1)
			if i < len(cuts) && cuts[i]&0x80 != 0 {
				dir ^= 1
			}
			switch r := s.send(dir, string(stream[:n])); r {
			case packet.ReasonNone, packet.ReasonALGDrop, packet.ReasonALGExpectFull:
			default:
				t.Fatalf("Inspect returned %v", r)
			}
			stream = stream[n:]
		}
		if x.Len() > x.Cap() {
			t.Fatal("table over capacity")
		}
	})
}
