package packet

import (
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

func benchParse(b *testing.B, frame []byte, link LinkType) {
	var p Parsed
	if r := Parse(frame, link, &p); r != ReasonNone {
		b.Fatalf("Parse: %q", r)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	b.ResetTimer()
	for b.Loop() {
		Parse(frame, link, &p)
	}
}

// BenchmarkParseIPv4TCP parses Ethernet + IPv4 + TCP SYN with options.
func BenchmarkParseIPv4TCP(b *testing.B) {
	ip := ip4(layers.IPProtocolTCP)
	benchParse(b, serialize(b, eth(layers.EthernetTypeIPv4), ip, tcpSyn(ip), gopacket.Payload(make([]byte, 64))), LinkEthernet)
}

// BenchmarkParseTCP4 reads the same frame as BenchmarkParseIPv4TCP with
// the fast path's parser (header checksum verified).
func BenchmarkParseTCP4(b *testing.B) {
	ip := ip4(layers.IPProtocolTCP)
	frame := serialize(b, eth(layers.EthernetTypeIPv4), ip, tcpSyn(ip), gopacket.Payload(make([]byte, 64)))
	opt := Options{IPv4Checksum: ChecksumVerifyNonZero}
	var s TCP4
	if !ParseTCP4(frame, opt, &s) {
		b.Fatal("ParseTCP4 refused the frame")
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		ParseTCP4(frame, opt, &s)
	}
}

// BenchmarkParseIPv6ExtTCP parses Ethernet + IPv6 + hop-by-hop +
// destination options + TCP.
func BenchmarkParseIPv6ExtTCP(b *testing.B) {
	ip := ip6(layers.IPProtocolIPv6HopByHop)
	hbh := &layers.IPv6HopByHop{}
	hbh.NextHeader = layers.IPProtocolIPv6Destination
	hbh.Options = []*layers.IPv6HopByHopOption{{OptionType: 1, OptionLength: 4, OptionData: []byte{0, 0, 0, 0}}}
	dst := &layers.IPv6Destination{}
	dst.NextHeader = layers.IPProtocolTCP
	dst.Options = []*layers.IPv6DestinationOption{{OptionType: 1, OptionLength: 4, OptionData: []byte{0, 0, 0, 0}}}
	benchParse(b, serialize(b, eth(layers.EthernetTypeIPv6), ip, hbh, dst, tcpSyn(ip)), LinkEthernet)
}

// BenchmarkParseVLAN parses QinQ + IPv4 + UDP.
func BenchmarkParseVLAN(b *testing.B) {
	ip := ip4(layers.IPProtocolUDP)
	udp := &layers.UDP{SrcPort: 5353, DstPort: 53}
	_ = udp.SetNetworkLayerForChecksum(ip)
	outer := &layers.Dot1Q{VLANIdentifier: 10, Type: layers.EthernetTypeDot1Q}
	inner := &layers.Dot1Q{VLANIdentifier: 20, Type: layers.EthernetTypeIPv4}
	benchParse(b, serialize(b, eth(layers.EthernetTypeQinQ), outer, inner, ip, udp, gopacket.Payload(make([]byte, 32))), LinkEthernet)
}

// BenchmarkParseICMPError parses an ICMP port unreachable quoting UDP.
func BenchmarkParseICMPError(b *testing.B) {
	quip := &layers.IPv4{Version: 4, IHL: 5, TTL: 1, Protocol: layers.IPProtocolUDP, SrcIP: v4B, DstIP: v4A}
	qudp := &layers.UDP{SrcPort: 5000, DstPort: 53}
	_ = qudp.SetNetworkLayerForChecksum(quip)
	quoted := serialize(b, quip, qudp)
	ip := ip4(layers.IPProtocolICMPv4)
	un := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(3, 3)}
	benchParse(b, serialize(b, eth(layers.EthernetTypeIPv4), ip, un, gopacket.Payload(quoted)), LinkEthernet)
}
