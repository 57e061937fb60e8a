package packet_test

import (
	"net/netip"
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
