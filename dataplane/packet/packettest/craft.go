package packettest

import (
	"net"
	"net/netip"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// TCP flag names for Frame specs.
const (
	FIN = 1 << iota
	SYN
	RST
	PSH
	ACK
	URG
)

// Spec describes one crafted frame: an Ethernet frame carrying IPv4 or
// IPv6 (by the addresses' family) and TCP, UDP or ICMP echo.
type Spec struct {
	Src, Dst netip.AddrPort
	Proto    string // "tcp", "udp", "icmp" (echo request; Seq is the id)
	Flags    int    // TCP flags (FIN, SYN, ...)
	Seq, Ack uint32
	Window   uint16 // TCP window (65535 when zero)
	WScale   int    // TCP window-scale option on SYNs when > 0
	Payload  []byte
	VLAN     uint16 // an 802.1Q tag when not zero
	Reply    bool   // ICMP: echo reply instead of request
}

// Frame builds the frame a Spec describes. It panics on a spec gopacket
// cannot serialize: a test bug, not an input.
func Frame(s Spec) []byte {
	eth := &layers.Ethernet{
		SrcMAC: net.HardwareAddr{0x02, 0, 0, 0, 0, 1},
		DstMAC: net.HardwareAddr{0x02, 0, 0, 0, 0, 2},
	}
	var ls []gopacket.SerializableLayer
	ls = append(ls, eth)
	l3Type := layers.EthernetTypeIPv4
	if s.Src.Addr().Is6() {
		l3Type = layers.EthernetTypeIPv6
	}
	if s.VLAN != 0 {
		eth.EthernetType = layers.EthernetTypeDot1Q
		ls = append(ls, &layers.Dot1Q{VLANIdentifier: s.VLAN, Type: l3Type})
	} else {
		eth.EthernetType = l3Type
	}
	var netLayer gopacket.NetworkLayer
	if s.Src.Addr().Is6() {
		ip := &layers.IPv6{Version: 6, HopLimit: 64, SrcIP: s.Src.Addr().AsSlice(), DstIP: s.Dst.Addr().AsSlice()}
		switch s.Proto {
		case "tcp":
			ip.NextHeader = layers.IPProtocolTCP
		case "udp":
			ip.NextHeader = layers.IPProtocolUDP
		default:
			ip.NextHeader = layers.IPProtocolICMPv6
		}
		netLayer = ip
		ls = append(ls, ip)
	} else {
		ip := &layers.IPv4{Version: 4, TTL: 64, SrcIP: s.Src.Addr().AsSlice(), DstIP: s.Dst.Addr().AsSlice()}
		switch s.Proto {
		case "tcp":
			ip.Protocol = layers.IPProtocolTCP
		case "udp":
			ip.Protocol = layers.IPProtocolUDP
		default:
			ip.Protocol = layers.IPProtocolICMPv4
		}
		netLayer = ip
		ls = append(ls, ip)
	}
	switch s.Proto {
	case "tcp":
		win := s.Window
		if win == 0 {
			win = 65535
		}
		t := &layers.TCP{
			SrcPort: layers.TCPPort(s.Src.Port()), DstPort: layers.TCPPort(s.Dst.Port()),
			Seq: s.Seq, Ack: s.Ack, Window: win,
			FIN: s.Flags&FIN != 0, SYN: s.Flags&SYN != 0, RST: s.Flags&RST != 0,
			PSH: s.Flags&PSH != 0, ACK: s.Flags&ACK != 0, URG: s.Flags&URG != 0,
		}
		if s.Flags&SYN != 0 && s.WScale > 0 {
			t.Options = []layers.TCPOption{{OptionType: layers.TCPOptionKindWindowScale, OptionLength: 3, OptionData: []byte{byte(s.WScale)}}}
		}
		_ = t.SetNetworkLayerForChecksum(netLayer)
		ls = append(ls, t)
	case "udp":
		u := &layers.UDP{SrcPort: layers.UDPPort(s.Src.Port()), DstPort: layers.UDPPort(s.Dst.Port())}
		_ = u.SetNetworkLayerForChecksum(netLayer)
		ls = append(ls, u)
	default:
		if s.Src.Addr().Is6() {
			typ := layers.ICMPv6TypeEchoRequest
			if s.Reply {
				typ = layers.ICMPv6TypeEchoReply
			}
			ic := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(uint8(typ), 0)}
			_ = ic.SetNetworkLayerForChecksum(netLayer)
			ls = append(ls, ic, &layers.ICMPv6Echo{Identifier: uint16(s.Seq), SeqNumber: 1})
		} else {
			typ := layers.ICMPv4TypeEchoRequest
			if s.Reply {
				typ = layers.ICMPv4TypeEchoReply
			}
			ls = append(ls, &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(uint8(typ), 0), Id: uint16(s.Seq), Seq: 1})
		}
	}
	ls = append(ls, gopacket.Payload(s.Payload))
	b, err := serialize(ls...)
	if err != nil {
		panic("packettest: " + err.Error())
	}
	return b
}

// Serialize builds a frame (or a bare packet) from gopacket layers, with
// lengths and checksums computed; it fails t when gopacket cannot.
func Serialize(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	b, err := serialize(ls...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func serialize(ls ...gopacket.SerializableLayer) ([]byte, error) {
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		return nil, err
	}
	return append([]byte(nil), buf.Bytes()...), nil
}

// Handshake returns the frames of a TCP connection from client to server:
// SYN, SYN|ACK, ACK, then n data segments from the client with their
// ACKs from the server.
func Handshake(client, server netip.AddrPort, n int) [][]byte {
	const isnC, isnS = 1000, 5000
	out := [][]byte{
		Frame(Spec{Src: client, Dst: server, Proto: "tcp", Flags: SYN, Seq: isnC}),
		Frame(Spec{Src: server, Dst: client, Proto: "tcp", Flags: SYN | ACK, Seq: isnS, Ack: isnC + 1}),
		Frame(Spec{Src: client, Dst: server, Proto: "tcp", Flags: ACK, Seq: isnC + 1, Ack: isnS + 1}),
	}
	seq := uint32(isnC + 1)
	for i := 0; i < n; i++ {
		out = append(out,
			Frame(Spec{Src: client, Dst: server, Proto: "tcp", Flags: ACK | PSH, Seq: seq, Ack: isnS + 1, Payload: make([]byte, 100)}),
			Frame(Spec{Src: server, Dst: client, Proto: "tcp", Flags: ACK, Seq: isnS + 1, Ack: seq + 100}))
		seq += 100
	}
	return out
}
