package traffic

import (
	"net/netip"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/statewall/statewall/dataplane/packet"
)

func TestFramesParseWithGoodChecksums(t *testing.T) {
	frames := Flows(300, 2)
	if len(frames) != 300*7 {
		t.Fatalf("%d frames", len(frames))
	}
	for i, f := range frames {
		var p packet.Parsed
		if r := packet.ParseWith(f, packet.LinkEthernet, packet.Options{IPv4Checksum: packet.ChecksumVerify}, &p); r != packet.ReasonNone {
			t.Fatalf("frame %d: %v", i, r)
		}
		pk := gopacket.NewPacket(f, layers.LayerTypeEthernet, gopacket.Default)
		tcp := pk.Layer(layers.LayerTypeTCP).(*layers.TCP)
		got := tcp.Checksum
		_ = tcp.SetNetworkLayerForChecksum(pk.NetworkLayer())
		buf := gopacket.NewSerializeBuffer()
		_ = gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true}, tcp, gopacket.Payload(tcp.Payload))
		if want := pk.Layer(layers.LayerTypeTCP).(*layers.TCP).Checksum; got != want {
			t.Fatalf("frame %d: TCP checksum %x, gopacket computes %x", i, got, want)
		}
	}
}

func TestExchangesParseWithGoodChecksums(t *testing.T) {
	for i, f := range Exchanges(300) {
		var p packet.Parsed
		r := packet.ParseWith(f, packet.LinkEthernet, packet.Options{IPv4Checksum: packet.ChecksumVerify}, &p)
		if r != packet.ReasonNone || p.Tuple.Proto != packet.ProtoUDP || len(f) != 60 || !packet.TransportChecksumOK(&p) {
			t.Fatalf("frame %d: %v, proto %d, %d bytes, UDP checksum good %v", i, r, p.Tuple.Proto, len(f), packet.TransportChecksumOK(&p))
		}
	}
}

func TestIPv6FramesParseWithGoodChecksums(t *testing.T) {
	for i, f := range IPv6(append(Flows(300, 2), Exchanges(300)...)) {
		var p packet.Parsed
		r := packet.ParseWith(f, packet.LinkEthernet, packet.Options{}, &p)
		if r != packet.ReasonNone || p.Tuple.Family != packet.FamilyIPv6 || !packet.TransportChecksumOK(&p) {
			t.Fatalf("frame %d: %v, family %v, checksum good %v", i, r, p.Tuple.Family, packet.TransportChecksumOK(&p))
		}
		src, dst := netip.AddrFrom16(p.Tuple.Src), netip.AddrFrom16(p.Tuple.Dst)
		if client := netip.MustParsePrefix("fd00::c612:0/112"); !client.Contains(src) && !client.Contains(dst) {
			t.Fatalf("frame %d: %v -> %v, want one end in %v", i, src, dst, client)
		}
	}
}
