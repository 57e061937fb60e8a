package pktgen

import (
	"strings"
	"testing"

	"github.com/statewall/statewall/dataplane/packet"
)

// complete is a minimal script the model accepts: a UDP range over four
// client addresses and three client ports on port 0.
const complete = `# comment
range 0 proto udp
range 0 size start 64
range 0 size min 64
range 0 size max 64
range 0 size inc 0
range 0 src ip start 198.18.0.1
range 0 src ip min 198.18.0.1
range 0 src ip max 198.18.0.4
range 0 src ip inc 0.0.0.1
range 0 dst ip start 198.19.0.1
range 0 dst ip min 198.19.0.1
range 0 dst ip max 198.19.0.1
range 0 dst ip inc 0.0.0.0
range 0 src port start 1000
range 0 src port min 1000
range 0 src port max 1002
range 0 src port inc 1
range 0 dst port start 5678
range 0 dst port min 5678
range 0 dst port max 5678
range 0 dst port inc 0
enable 0 range
start 0
sleep 1
delay 500
start 0
`

func TestParseComplete(t *testing.T) {
	s, err := Parse("complete.pkt", strings.NewReader(complete))
	if err != nil {
		t.Fatal(err)
	}
	p := s.Ports[0]
	if got, period := p.Flows(), p.Period(); got != 12 || period != 12 { // lcm(4, 3)
		t.Fatalf("Flows = %d, Period = %d, want 12", got, period)
	}
	if len(s.Starts) != 2 || s.Starts[1].AfterMillis != 1500 {
		t.Fatalf("Starts = %+v, want the second 1500 ms after the first", s.Starts)
	}
	st := p.Stream()
	seen := map[[2]uint32]bool{}
	for range 24 {
		f := st.Next()
		if len(f) != 60 {
			t.Fatalf("frame of %d bytes, want 60 (64 with the FCS)", len(f))
		}
		var pp packet.Parsed
		if r := packet.Parse(f, packet.LinkEthernet, &pp); r != packet.ReasonNone {
			t.Fatalf("the model's frame does not parse: %v", r)
		}
		seen[[2]uint32{uint32(f[29]), uint32(f[34])<<8 | uint32(f[35])}] = true
	}
	if len(seen) != 12 {
		t.Fatalf("24 frames carry %d distinct (address, port) pairs, want 12", len(seen))
	}
}

// TestParseErrors: what the model does not follow is refused, with the
// file and line where the script says it.
func TestParseErrors(t *testing.T) {
	for _, c := range []struct{ edit, want string }{
		{"range 0 src ip inc 0.0.0.1\n", ""},
		{"set 0 dport 80\n", "x.pkt:28: set 0 dport 80: only rate, count, burst and size"},
		{"range 0 ttl start 64\n", "x.pkt:28: range 0 ttl start 64: only src|dst ip|port"},
		{"range 0 src ip start fd00::1\n", "not an IPv4 address"},
		{"range 0 src port start 70000\n", "not a 16-bit number"},
		{"range 0 src port begin 1\n", `"begin" is not start, min, max or inc`},
		{"range 0 proto icmp\n", "proto is tcp or udp"},
		{"save foo\n", "x.pkt:28: save foo: not a port list"},
		{"load 0 foo\n", "command not modelled"},
		{"start 9\n", "not a port list"},
		{"disable 0 range\n", "port 0: neither range nor pcap mode is enabled"},
		{"enable 0 pcap\nrange 0 ttl start 1\n", "only src|dst ip|port"},
		{"enable 0 pcap\n", ""},
		{"enable 0 sequence\n", "only range and pcap are modelled"},
		{"range 0 src ip start 198.18.0.9\n", "port 0: range src ip: start must lie in [min, max]"},
		{"range 0 src port max 65535\n", "range src port: max+inc overflows the 16-bit field"},
		{"range 1 proto tcp\n", "port 1: neither range nor pcap mode is enabled"},
		{"set 0 rate 0\n", "rate is a percentage"},
		{"delay soon\n", "not a duration"},
	} {
		_, err := Parse("x.pkt", strings.NewReader(complete+c.edit))
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%q: %v", c.edit, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%q: error %v, want one containing %q", c.edit, err, c.want)
		}
	}
}

// FuzzParse: no script makes the parser or a stream of an accepted one
// panic, and every frame of an accepted script parses.
func FuzzParse(f *testing.F) {
	f.Add(complete)
	f.Add("enable all range\nrange all proto tcp\n")
	f.Fuzz(func(t *testing.T, text string) {
		s, err := Parse("fuzz.pkt", strings.NewReader(text))
		if err != nil {
			return
		}
		for _, setup := range s.Ports {
			_ = setup.Flows()
			st := setup.Stream()
			for range 4 {
				var pp packet.Parsed
				if r := packet.Parse(st.Next(), packet.LinkEthernet, &pp); r != packet.ReasonNone {
					t.Fatalf("frame does not parse: %v", r)
				}
			}
		}
	})
}
