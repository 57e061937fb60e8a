package packet_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/dataplane/packet/packettest"
)

func TestTransportChecksum(t *testing.T) {
	for _, spec := range []packettest.Spec{
		{Src: netip.MustParseAddrPort("198.18.0.1:1000"), Dst: netip.MustParseAddrPort("198.19.0.2:80"), Proto: "tcp", Flags: packettest.SYN, Payload: []byte("abc")},
		{Src: netip.MustParseAddrPort("[fd00::1]:1000"), Dst: netip.MustParseAddrPort("[fd00::2]:53"), Proto: "udp", Payload: []byte("query")},
		{Src: netip.MustParseAddrPort("198.18.0.1:0"), Dst: netip.MustParseAddrPort("198.19.0.2:0"), Proto: "icmp", Seq: 7},
		{Src: netip.MustParseAddrPort("[fd00::1]:0"), Dst: netip.MustParseAddrPort("[fd00::2]:0"), Proto: "icmp", Seq: 7},
	} {
		f := packettest.Frame(spec)
		var p packet.Parsed
		if r := packet.Parse(f, packet.LinkEthernet, &p); r != packet.ReasonNone {
			t.Fatalf("%v: %v", spec, r)
		}
		if !packet.TransportChecksumOK(&p) {
			t.Errorf("%s %v: good checksum refused", spec.Proto, spec.Src)
		}
		f[int(p.L4Off)+4] ^= 0x40 // damage a transport header byte
		if packet.TransportChecksumOK(&p) {
			t.Errorf("%s %v: bad checksum accepted", spec.Proto, spec.Src)
		}
	}
}

// TestL4ChecksumFast checks the fast path's checksums on the frames its
// parsers take: TCP and UDP over IPv4 and IPv6, with and without payload
// (odd lengths too), good and damaged; a UDP checksum of zero passes over
// IPv4 only.
func TestL4ChecksumFast(t *testing.T) {
	for n := range 80 { // every tail of sumLE's loops
		payload := strings.Repeat("\xff\x01z", n)[:n]
		for _, spec := range []packettest.Spec{
			{Src: netip.MustParseAddrPort("198.18.0.1:1000"), Dst: netip.MustParseAddrPort("198.19.0.2:80"), Proto: "tcp", Flags: packettest.ACK, Seq: 9, Ack: 7},
			{Src: netip.MustParseAddrPort("198.18.0.1:1000"), Dst: netip.MustParseAddrPort("198.19.0.2:53"), Proto: "udp"},
			{Src: netip.MustParseAddrPort("[fd00::1]:1000"), Dst: netip.MustParseAddrPort("[fd00::2]:80"), Proto: "tcp", Flags: packettest.ACK, Seq: 9, Ack: 7},
			{Src: netip.MustParseAddrPort("[fd00::1]:1000"), Dst: netip.MustParseAddrPort("[fd00::2]:53"), Proto: "udp"},
		} {
			spec.Payload = []byte(payload)
			f := packettest.Frame(spec)
			v4 := spec.Src.Addr().Is4()
			check := packet.L4ChecksumOK6
			l4 := packet.L4Off6
			if v4 {
				check, l4 = packet.L4ChecksumOK4, packet.TCP4Off
			}
			var (
				s4 packet.TCP4
				u4 packet.UDP4
				s6 packet.TCP6
				u6 packet.UDP6
			)
			if !packet.ParseTCP4(f, packet.Options{}, &s4) && !packet.ParseUDP4(f, packet.Options{}, &u4) &&
				!packet.ParseTCP6(f, &s6) && !packet.ParseUDP6(f, &u6) {
				t.Fatalf("%s %v %q: not a fast path frame", spec.Proto, spec.Src, payload)
			}
			if !check(f) {
				t.Errorf("%s %v %q: good checksum refused", spec.Proto, spec.Src, payload)
			}
			f[l4+4] ^= 0x40
			if check(f) {
				t.Errorf("%s %v %q: bad checksum accepted", spec.Proto, spec.Src, payload)
			}
			f[l4+4] ^= 0x40
			if spec.Proto == "udp" {
				f[l4+6], f[l4+7] = 0, 0
				if check(f) != v4 {
					t.Errorf("%s %v %q: zero checksum passes %v", spec.Proto, spec.Src, payload, !v4)
				}
			}
		}
	}
}
