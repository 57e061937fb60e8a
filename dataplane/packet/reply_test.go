package packet_test

import (
	"net/netip"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/dataplane/packet/packettest"
)

func parse(t *testing.T, frame []byte) *packet.Parsed {
	t.Helper()
	var p packet.Parsed
	if r := packet.Parse(frame, packet.LinkEthernet, &p); r != packet.ReasonNone {
		t.Fatalf("parse: %v", r)
	}
	return &p
}

// checksumsOK decodes a reply with gopacket and verifies its checksums.
func checksumsOK(t *testing.T, frame []byte) gopacket.Packet {
	t.Helper()
	pk := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.Default)
	if el := pk.ErrorLayer(); el != nil {
		t.Fatalf("reply does not decode: %v", el.Error())
	}
	// Re-serialize with computed checksums and compare.
	var ls []gopacket.SerializableLayer
	var netl gopacket.NetworkLayer
	for _, l := range pk.Layers() {
		switch v := l.(type) {
		case *layers.IPv4:
			netl = v
		case *layers.IPv6:
			netl = v
		case *layers.TCP:
			_ = v.SetNetworkLayerForChecksum(netl)
		case *layers.ICMPv6:
			_ = v.SetNetworkLayerForChecksum(netl)
		}
		if s, ok := l.(gopacket.SerializableLayer); ok {
			ls = append(ls, s)
		}
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	if got := buf.Bytes(); string(got) != string(frame) {
		t.Errorf("checksums differ from gopacket's:\n got  %x\n want %x", frame, got)
	}
	return pk
}

func TestTCPResetAnswersSYNAndData(t *testing.T) {
	buf := make([]byte, packet.MaxReplyLen)
	for _, tc := range []struct {
		name      string
		spec      packettest.Spec
		seq, ack  uint32
		wantFlags string
	}{
		{"syn", packettest.Spec{Src: netip.MustParseAddrPort("198.18.0.1:40000"), Dst: netip.MustParseAddrPort("198.19.0.2:113"), Proto: "tcp", Flags: packettest.SYN, Seq: 1000}, 0, 1001, "RST|ACK"},
		{"data", packettest.Spec{Src: netip.MustParseAddrPort("[fd00::1]:40000"), Dst: netip.MustParseAddrPort("[fd00::2]:113"), Proto: "tcp", Flags: packettest.ACK | packettest.PSH, Seq: 5, Ack: 77, Payload: []byte("hello")}, 77, 0, "RST"},
		{"vlan", packettest.Spec{Src: netip.MustParseAddrPort("198.18.0.1:40000"), Dst: netip.MustParseAddrPort("198.19.0.2:113"), Proto: "tcp", Flags: packettest.SYN | packettest.FIN, Seq: 9, VLAN: 42}, 0, 11, "RST|ACK"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := parse(t, packettest.Frame(tc.spec))
			r := packet.TCPReset(buf, p)
			if r == nil {
				t.Fatal("no reset")
			}
			pk := checksumsOK(t, r)
			q := parse(t, r)
			if q.Tuple.Src != p.Tuple.Dst || q.Tuple.Dst != p.Tuple.Src || q.Tuple.SrcPort != p.Tuple.DstPort || q.Tuple.DstPort != p.Tuple.SrcPort {
				t.Errorf("reply tuple %+v does not reverse %+v", q.Tuple, p.Tuple)
			}
			if q.TCP.Seq != tc.seq || q.TCP.Ack != tc.ack {
				t.Errorf("seq/ack %d/%d, want %d/%d", q.TCP.Seq, q.TCP.Ack, tc.seq, tc.ack)
			}
			tcp := pk.Layer(layers.LayerTypeTCP).(*layers.TCP)
			flags := "RST"
			if tcp.ACK {
				flags += "|ACK"
			}
			if !tcp.RST || flags != tc.wantFlags {
				t.Errorf("flags %s, want %s", flags, tc.wantFlags)
			}
			if q.VLANs != p.VLANs || q.VLAN != p.VLAN {
				t.Errorf("VLAN tags not kept")
			}
		})
	}
	rst := parse(t, packettest.Frame(packettest.Spec{Src: netip.MustParseAddrPort("198.18.0.1:1"), Dst: netip.MustParseAddrPort("198.19.0.2:2"), Proto: "tcp", Flags: packettest.RST}))
	if packet.TCPReset(buf, rst) != nil {
		t.Error("answered a RST with a RST")
	}
}

func TestUnreachableQuotesThePacket(t *testing.T) {
	buf := make([]byte, packet.MaxReplyLen)
	for _, src := range []string{"198.18.0.1:5353", "[fd00::1]:5353"} {
		dst := "198.19.0.2:53"
		if src[0] == '[' {
			dst = "[fd00::2]:53"
		}
		p := parse(t, packettest.Frame(packettest.Spec{Src: netip.MustParseAddrPort(src), Dst: netip.MustParseAddrPort(dst), Proto: "udp", Payload: make([]byte, 2000)}))
		r := packet.Unreachable(buf, p)
		if r == nil {
			t.Fatal("no unreachable")
		}
		checksumsOK(t, r)
		q := parse(t, r)
		if !q.ICMP.IsError || !q.ICMP.InnerOK {
			t.Fatalf("reply is not an ICMP error quoting the packet: %+v", q.ICMP)
		}
		if q.ICMP.Inner.Src != p.Tuple.Src || q.ICMP.Inner.SrcPort != p.Tuple.SrcPort {
			t.Errorf("quoted tuple %+v, want %+v", q.ICMP.Inner, p.Tuple)
		}
		limit := 576
		if q.Tuple.Family == packet.FamilyIPv6 {
			limit = 1280
		}
		if int(q.IPLen) != limit {
			t.Errorf("error is %d bytes, want the %d-byte limit", q.IPLen, limit)
		}
		if packet.Unreachable(buf, q) != nil {
			t.Error("answered an ICMP error with an ICMP error")
		}
	}
}

func TestRepliesDoNotAllocate(t *testing.T) {
	buf := make([]byte, packet.MaxReplyLen)
	p := parse(t, packettest.Frame(packettest.Spec{Src: netip.MustParseAddrPort("198.18.0.1:40000"), Dst: netip.MustParseAddrPort("198.19.0.2:113"), Proto: "tcp", Flags: packettest.SYN}))
	if a := testing.AllocsPerRun(100, func() { packet.TCPReset(buf, p); packet.Unreachable(buf, p) }); a != 0 {
		t.Errorf("%v allocations", a)
	}
}
