package traffic

import (
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
