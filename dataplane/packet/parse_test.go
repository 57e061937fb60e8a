package packet

import (
	"encoding/binary"
	"net"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

var (
	macA = net.HardwareAddr{0x02, 0, 0, 0, 0, 1}
	macB = net.HardwareAddr{0x02, 0, 0, 0, 0, 2}
	v4A  = net.IP{198, 18, 0, 1}
	v4B  = net.IP{198, 18, 0, 2}
	v6A  = net.ParseIP("fd00::1")
	v6B  = net.ParseIP("fd00::2")
)

// serialize builds a frame from gopacket layers with lengths and
// checksums computed.
func serialize(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, ls...); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

func eth(et layers.EthernetType) *layers.Ethernet {
	return &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: et}
}

func ip4(proto layers.IPProtocol) *layers.IPv4 {
	return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: proto, SrcIP: v4A, DstIP: v4B, Id: 7}
}

func ip6(nh layers.IPProtocol) *layers.IPv6 {
	return &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: nh, SrcIP: v6A, DstIP: v6B}
}

// tcpSyn returns a SYN with MSS, SACK-permitted, timestamps and window
// scale options, its checksum computed over n.
func tcpSyn(n gopacket.NetworkLayer) *layers.TCP {
	tcp := &layers.TCP{SrcPort: 40000, DstPort: 80, Seq: 1000, Ack: 0, SYN: true, Window: 64240,
		Options: []layers.TCPOption{
			{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{0x05, 0xb4}},
			{OptionType: layers.TCPOptionKindSACKPermitted, OptionLength: 2},
			{OptionType: layers.TCPOptionKindTimestamps, OptionLength: 10, OptionData: []byte{0, 0, 0, 9, 0, 0, 0, 0}},
			{OptionType: layers.TCPOptionKindNop},
			{OptionType: layers.TCPOptionKindWindowScale, OptionLength: 3, OptionData: []byte{7}},
		}}
	_ = tcp.SetNetworkLayerForChecksum(n)
	return tcp
}

func addr4(ip net.IP) (a [16]byte) { copy(a[:], ip.To4()); return }
func addr6(ip net.IP) (a [16]byte) { copy(a[:], ip.To16()); return }

func TestParseEthernetIPv4TCP(t *testing.T) {
	ip := ip4(layers.IPProtocolTCP)
	payload := gopacket.Payload("hello")
	f := serialize(t, eth(layers.EthernetTypeIPv4), ip, tcpSyn(ip), payload)
	f = append(f, make([]byte, 10)...) // Ethernet padding beyond the IP length
	var p Parsed
	if r := Parse(f, LinkEthernet, &p); r != ReasonNone {
		t.Fatalf("Parse: %q", r)
	}
	want := Tuple{Src: addr4(v4A), Dst: addr4(v4B), SrcPort: 40000, DstPort: 80, Proto: ProtoTCP, Family: FamilyIPv4}
	if p.Tuple != want {
		t.Errorf("tuple %+v, want %+v", p.Tuple, want)
	}
	if p.L3Off != 14 || p.L4Off != 34 || p.PayloadOff != 34+40 || p.PayloadLen != 5 || p.IPLen != 20+40+5 {
		t.Errorf("offsets L3 %d L4 %d payload %d+%d iplen %d", p.L3Off, p.L4Off, p.PayloadOff, p.PayloadLen, p.IPLen)
	}
	if string(p.Payload()) != "hello" {
		t.Errorf("payload %q", p.Payload())
	}
	wantTCP := TCPInfo{Seq: 1000, Window: 64240, Flags: TCPSyn, HeaderLen: 40, MSS: 1460, WScale: 7, HasWScale: true,
		SACKPerm: true, HasTS: true, TSVal: 9}
	if p.TCP != wantTCP {
		t.Errorf("tcp %+v, want %+v", p.TCP, wantTCP)
	}
	if p.TTL != 64 || p.EthType != EtherTypeIPv4 || p.Fragment.Is || p.Family() != FamilyIPv4 {
		t.Errorf("ttl %d ethtype %#x frag %+v", p.TTL, p.EthType, p.Fragment)
	}
}

func TestParseVLAN(t *testing.T) {
	ip := ip4(layers.IPProtocolUDP)
	udp := &layers.UDP{SrcPort: 5353, DstPort: 53}
	_ = udp.SetNetworkLayerForChecksum(ip)
	for _, tc := range []struct {
		name string
		tags []uint16 // TPIDs, outermost first
	}{
		{"802.1Q", []uint16{0x8100}},
		{"802.1ad+802.1Q", []uint16{0x88a8, 0x8100}},
		{"0x9100+802.1Q", []uint16{0x9100, 0x8100}},
		{"three tags", []uint16{0x88a8, 0x8100, 0x8100}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inner := serialize(t, ip, udp, gopacket.Payload("q"))
			f := append([]byte(nil), macB...)
			f = append(f, macA...)
			for i, tpid := range tc.tags {
				f = binary.BigEndian.AppendUint16(f, tpid)
				f = binary.BigEndian.AppendUint16(f, uint16(100+i)|0x2000) // PCP 1
			}
			f = binary.BigEndian.AppendUint16(f, EtherTypeIPv4)
			f = append(f, inner...)
			var p Parsed
			if r := Parse(f, LinkEthernet, &p); r != ReasonNone {
				t.Fatalf("Parse: %q", r)
			}
			if int(p.VLANs) != len(tc.tags) || p.VLAN[0] != 100 || (len(tc.tags) > 1 && p.VLAN[1] != 101) {
				t.Errorf("VLANs %d %v", p.VLANs, p.VLAN)
			}
			if int(p.L3Off) != 14+4*len(tc.tags) || p.Tuple.DstPort != 53 || p.UDPLen != 9 || string(p.Payload()) != "q" {
				t.Errorf("L3 %d tuple %+v udplen %d", p.L3Off, p.Tuple, p.UDPLen)
			}
		})
	}
}

func TestParseIPv6ExtTCP(t *testing.T) {
	ip := ip6(layers.IPProtocolIPv6HopByHop)
	hbh := &layers.IPv6HopByHop{}
	hbh.NextHeader = layers.IPProtocolIPv6Destination
	hbh.Options = []*layers.IPv6HopByHopOption{{OptionType: 1, OptionLength: 4, OptionData: []byte{0, 0, 0, 0}}} // PadN
	dst := &layers.IPv6Destination{}
	dst.NextHeader = layers.IPProtocolTCP
	dst.Options = []*layers.IPv6DestinationOption{{OptionType: 1, OptionLength: 4, OptionData: []byte{0, 0, 0, 0}}}
	f := serialize(t, eth(layers.EthernetTypeIPv6), ip, hbh, dst, tcpSyn(ip))
	var p Parsed
	if r := Parse(f, LinkEthernet, &p); r != ReasonNone {
		t.Fatalf("Parse: %q", r)
	}
	want := Tuple{Src: addr6(v6A), Dst: addr6(v6B), SrcPort: 40000, DstPort: 80, Proto: ProtoTCP, Family: FamilyIPv6}
	if p.Tuple != want {
		t.Errorf("tuple %+v", p.Tuple)
	}
	if p.L4Off != 14+40+8+8 || p.TCP.MSS != 1460 || int(p.IPLen) != 40+16+40 {
		t.Errorf("L4 %d mss %d iplen %d", p.L4Off, p.TCP.MSS, p.IPLen)
	}
}

func TestParseLinkTypes(t *testing.T) {
	ip := ip4(layers.IPProtocolUDP)
	udp := &layers.UDP{SrcPort: 1, DstPort: 2}
	_ = udp.SetNetworkLayerForChecksum(ip)
	v4 := serialize(t, ip, udp)
	ipv6 := ip6(layers.IPProtocolUDP)
	_ = udp.SetNetworkLayerForChecksum(ipv6)
	v6 := serialize(t, ipv6, udp)
	sll := func(proto uint16) []byte {
		h := make([]byte, SLLSize)
		binary.BigEndian.PutUint16(h[2:], 1)
		binary.BigEndian.PutUint16(h[sllProtocol:], proto)
		return h
	}
	sll2 := func(proto uint16) []byte {
		h := make([]byte, SLL2Size)
		binary.BigEndian.PutUint16(h[sll2Protocol:], proto)
		return h
	}
	le := func(af uint32) []byte { return binary.LittleEndian.AppendUint32(nil, af) }
	be := func(af uint32) []byte { return binary.BigEndian.AppendUint32(nil, af) }
	cat := func(a, b []byte) []byte { return append(append([]byte(nil), a...), b...) }
	for _, tc := range []struct {
		name   string
		link   LinkType
		frame  []byte
		l3     uint16
		family Family
		r      DropReason
	}{
		{"sll v4", LinkLinuxSLL, cat(sll(EtherTypeIPv4), v4), 16, FamilyIPv4, ReasonNone},
		{"sll v6", LinkLinuxSLL, cat(sll(EtherTypeIPv6), v6), 16, FamilyIPv6, ReasonNone},
		{"sll arp", LinkLinuxSLL, cat(sll(EtherTypeARP), make([]byte, 28)), 16, 0, ReasonNotIP},
		{"sll runt", LinkLinuxSLL, sll(EtherTypeIPv4)[:15], 0, 0, ReasonRuntFrame},
		{"sll2 v4", LinkLinuxSLL2, cat(sll2(EtherTypeIPv4), v4), 20, FamilyIPv4, ReasonNone},
		{"sll2 runt", LinkLinuxSLL2, sll2(EtherTypeIPv4)[:19], 0, 0, ReasonRuntFrame},
		{"raw v4", LinkRawIP, v4, 0, FamilyIPv4, ReasonNone},
		{"raw v6", LinkRawIP, v6, 0, FamilyIPv6, ReasonNone},
		{"raw empty", LinkRawIP, nil, 0, 0, ReasonRuntFrame},
		{"raw v5", LinkRawIP, []byte{0x50}, 0, 0, ReasonIPv4BadVersion},
		{"ipv4 link", LinkIPv4, v4, 0, FamilyIPv4, ReasonNone},
		{"ipv4 link with v6", LinkIPv4, v6, 0, 0, ReasonIPv4BadVersion},
		{"ipv6 link with v4", LinkIPv6, cat(v4, make([]byte, 20)), 0, 0, ReasonIPv6BadVersion},
		{"null le v4", LinkNull, cat(le(2), v4), 4, FamilyIPv4, ReasonNone},
		{"null be v4", LinkNull, cat(be(2), v4), 4, FamilyIPv4, ReasonNone},
		{"null le v6 24", LinkNull, cat(le(24), v6), 4, FamilyIPv6, ReasonNone},
		{"null le v6 28", LinkNull, cat(le(28), v6), 4, FamilyIPv6, ReasonNone},
		{"null be v6 30", LinkNull, cat(be(30), v6), 4, FamilyIPv6, ReasonNone},
		{"null other", LinkNull, cat(le(7), v4), 4, 0, ReasonNotIP},
		{"null runt", LinkNull, []byte{2, 0, 0}, 0, 0, ReasonRuntFrame},
		{"loop v4", LinkLoop, cat(be(2), v4), 4, FamilyIPv4, ReasonNone},
		{"loop le is not v4", LinkLoop, cat(le(2), v4), 4, 0, ReasonNotIP},
		{"unknown link", LinkType(200), v4, 0, 0, ReasonNotIP},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p Parsed
			r := Parse(tc.frame, tc.link, &p)
			if r != tc.r || p.Family() != tc.family || (r == ReasonNone && p.L3Off != tc.l3) {
				t.Errorf("got %q family %d L3 %d, want %q family %d L3 %d", r, p.Family(), p.L3Off, tc.r, tc.family, tc.l3)
			}
			if r == ReasonNone && (p.Tuple.SrcPort != 1 || p.Tuple.DstPort != 2) {
				t.Errorf("ports %d %d", p.Tuple.SrcPort, p.Tuple.DstPort)
			}
		})
	}
}

func TestParseICMP(t *testing.T) {
	// Echo request: the id goes into both ports.
	ip := ip4(layers.IPProtocolICMPv4)
	echo := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0), Id: 0x1234, Seq: 1}
	f := serialize(t, eth(layers.EthernetTypeIPv4), ip, echo)
	var p Parsed
	if r := Parse(f, LinkEthernet, &p); r != ReasonNone {
		t.Fatal(r)
	}
	if p.Tuple.SrcPort != 0x1234 || p.Tuple.DstPort != 0x1234 || p.ICMP.ID != 0x1234 || p.ICMP.IsError {
		t.Errorf("echo: %+v %+v", p.Tuple, p.ICMP)
	}

	// Port unreachable quoting a UDP datagram: ports 0, inner tuple filled.
	quip := &layers.IPv4{Version: 4, IHL: 5, TTL: 1, Protocol: layers.IPProtocolUDP, SrcIP: v4B, DstIP: v4A}
	qudp := &layers.UDP{SrcPort: 5000, DstPort: 53}
	_ = qudp.SetNetworkLayerForChecksum(quip)
	quoted := serialize(t, quip, qudp, gopacket.Payload("abcd"))
	unreach := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(3, 3)}
	f = serialize(t, eth(layers.EthernetTypeIPv4), ip, unreach, gopacket.Payload(quoted[:28]))
	if r := Parse(f, LinkEthernet, &p); r != ReasonNone {
		t.Fatal(r)
	}
	wantInner := Tuple{Src: addr4(v4B), Dst: addr4(v4A), SrcPort: 5000, DstPort: 53, Proto: ProtoUDP, Family: FamilyIPv4}
	if p.Tuple.SrcPort != 0 || !p.ICMP.IsError || !p.ICMP.InnerOK || p.ICMP.Inner != wantInner {
		t.Errorf("unreach: %+v %+v", p.Tuple, p.ICMP)
	}

	// Time exceeded quoting a TCP segment: the sequence number is read.
	qip := &layers.IPv4{Version: 4, IHL: 5, TTL: 1, Protocol: layers.IPProtocolTCP, SrcIP: v4A, DstIP: v4B}
	qtcp := &layers.TCP{SrcPort: 1, DstPort: 2, Seq: 0xdeadbeef, SYN: true}
	_ = qtcp.SetNetworkLayerForChecksum(qip)
	quotedTCP := serialize(t, qip, qtcp)
	te := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(11, 0)}
	f = serialize(t, eth(layers.EthernetTypeIPv4), ip, te, gopacket.Payload(quotedTCP[:28]))
	if r := Parse(f, LinkEthernet, &p); r != ReasonNone || !p.ICMP.InnerOK || p.ICMP.InnerTCPSeq != 0xdeadbeef {
		t.Errorf("time exceeded: %q %+v", r, p.ICMP)
	}

	// Quotes cut short or malformed.
	for _, tc := range []struct {
		name  string
		quote []byte
		want  DropReason
	}{
		{"no quote", nil, ReasonICMPInnerTruncated},
		{"short ip", quoted[:19], ReasonICMPInnerTruncated},
		{"no ports", quoted[:23], ReasonICMPInnerTruncated},
		{"bad version", append([]byte{0x65}, quoted[1:28]...), ReasonICMPInnerBad},
		{"bad ihl", append([]byte{0x44}, quoted[1:28]...), ReasonICMPInnerBad},
		{"non-first fragment", func() []byte {
			q := append([]byte(nil), quoted[:28]...)
			q[ipv4FlagsFrag+1] = 1
			return q
		}(), ReasonICMPInnerBad},
	} {
		f = serialize(t, eth(layers.EthernetTypeIPv4), ip, unreach, gopacket.Payload(tc.quote))
		if r := Parse(f, LinkEthernet, &p); r != ReasonNone || p.ICMP.InnerOK || p.ICMP.InnerReason != tc.want {
			t.Errorf("%s: %q InnerOK %v InnerReason %q, want %q", tc.name, r, p.ICMP.InnerOK, p.ICMP.InnerReason, tc.want)
		}
	}
}

func TestParseICMPv6(t *testing.T) {
	ip := ip6(layers.IPProtocolICMPv6)
	echo := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(128, 0)}
	_ = echo.SetNetworkLayerForChecksum(ip)
	f := serialize(t, eth(layers.EthernetTypeIPv6), ip, echo, &layers.ICMPv6Echo{Identifier: 77, SeqNumber: 1})
	var p Parsed
	if r := Parse(f, LinkEthernet, &p); r != ReasonNone || p.Tuple.SrcPort != 77 || p.Tuple.DstPort != 77 {
		t.Errorf("echo: %q %+v", r, p.Tuple)
	}
	// Port unreachable quoting UDP behind a destination options header.
	qip := &layers.IPv6{Version: 6, HopLimit: 1, NextHeader: layers.IPProtocolIPv6Destination, SrcIP: v6B, DstIP: v6A}
	qdst := &layers.IPv6Destination{}
	qdst.NextHeader = layers.IPProtocolUDP
	qdst.Options = []*layers.IPv6DestinationOption{{OptionType: 1, OptionLength: 4, OptionData: []byte{0, 0, 0, 0}}}
	qudp := &layers.UDP{SrcPort: 784, DstPort: 47826}
	_ = qudp.SetNetworkLayerForChecksum(qip)
	quoted := serialize(t, qip, qdst, qudp)
	un := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(1, 4)}
	_ = un.SetNetworkLayerForChecksum(ip)
	f = serialize(t, eth(layers.EthernetTypeIPv6), ip, un, gopacket.Payload(make([]byte, 4)), gopacket.Payload(quoted))
	if r := Parse(f, LinkEthernet, &p); r != ReasonNone {
		t.Fatal(r)
	}
	want := Tuple{Src: addr6(v6B), Dst: addr6(v6A), SrcPort: 784, DstPort: 47826, Proto: ProtoUDP, Family: FamilyIPv6}
	if !p.ICMP.IsError || !p.ICMP.InnerOK || p.ICMP.Inner != want || p.Tuple.SrcPort != 0 {
		t.Errorf("unreach: %+v %+v", p.Tuple, p.ICMP)
	}
	// The same quote cut inside the destination options header.
	f = serialize(t, eth(layers.EthernetTypeIPv6), ip, un, gopacket.Payload(make([]byte, 4)), gopacket.Payload(quoted[:44]))
	if r := Parse(f, LinkEthernet, &p); r != ReasonNone || p.ICMP.InnerOK || p.ICMP.InnerReason != ReasonICMPInnerTruncated {
		t.Errorf("cut quote: %q %+v", r, p.ICMP)
	}
}

// rawEth returns an unpadded Ethernet frame of type et around body.
func rawEth(et uint16, body []byte) []byte {
	f := append(append([]byte(nil), macB...), macA...)
	f = binary.BigEndian.AppendUint16(f, et)
	return append(f, body...)
}

// frameIPv4 returns an Ethernet frame holding a UDP datagram with the
// given IPv4 header bytes patched by fix.
func frameIPv4(t testing.TB, proto layers.IPProtocol, l4 []byte, fix func(ip []byte)) []byte {
	f := rawEth(EtherTypeIPv4, serialize(t, ip4(proto), gopacket.Payload(l4)))
	if fix != nil {
		fix(f[14:])
	}
	return f
}

// frameIPv6 returns an Ethernet frame holding an IPv6 packet with next
// header nh and payload pl (the payload length is computed).
func frameIPv6(t testing.TB, nh layers.IPProtocol, pl []byte, fix func(ip []byte)) []byte {
	f := rawEth(EtherTypeIPv6, serialize(t, ip6(nh), gopacket.Payload(pl)))
	if fix != nil {
		fix(f[14:])
	}
	return f
}

// TestParseReasons reaches every reason Parse returns. ReasonTCPBadOptions
// is never returned: TCP options are read leniently, as Linux does.
func TestParseReasons(t *testing.T) {
	tcpHdr := func(doff uint8) []byte {
		b := make([]byte, 20)
		b[tcpDataOff] = doff << 4
		return b
	}
	udpHdr := func(n uint16, total int) []byte {
		b := make([]byte, total)
		binary.BigEndian.PutUint16(b[udpLength:], n)
		return b
	}
	ext := func(nh uint8, lenField uint8, total int) []byte {
		b := make([]byte, total)
		b[0], b[1] = nh, lenField
		return b
	}
	seen := map[DropReason]bool{}
	for _, tc := range []struct {
		name  string
		frame []byte
		opt   Options
		want  DropReason
	}{
		{"not ip", serialize(t, eth(layers.EthernetTypeARP), gopacket.Payload(make([]byte, 28))), Options{}, ReasonNotIP},
		{"runt", make([]byte, 13), Options{}, ReasonRuntFrame},
		{"vlan cut", rawEth(EtherTypeVLAN, []byte{0, 1, 8}), Options{}, ReasonVLANTruncated},
		{"too many tags", serialize(t, eth(layers.EthernetTypeDot1Q), gopacket.Payload(func() []byte {
			var b []byte
			for range 9 {
				b = append(b, 0, 1, 0x81, 0)
			}
			return b
		}())), Options{}, ReasonNotIP},
		{"ipv4 short", rawEth(EtherTypeIPv4, append([]byte{0x45}, make([]byte, 18)...)), Options{}, ReasonIPv4Truncated},
		{"ipv4 version", frameIPv4(t, 17, udpHdr(8, 8), func(ip []byte) { ip[0] = 0x65 }), Options{}, ReasonIPv4BadVersion},
		{"ipv4 ihl 4", frameIPv4(t, 17, udpHdr(8, 8), func(ip []byte) { ip[0] = 0x44 }), Options{}, ReasonIPv4BadIHL},
		{"ipv4 ihl beyond", frameIPv4(t, 17, udpHdr(8, 8), func(ip []byte) { ip[0] = 0x4f }), Options{}, ReasonIPv4BadIHL},
		{"ipv4 total beyond", frameIPv4(t, 17, udpHdr(8, 8), func(ip []byte) { ip[3]++ }), Options{}, ReasonIPv4BadLength},
		{"ipv4 total below header", frameIPv4(t, 17, udpHdr(8, 8), func(ip []byte) { ip[3] = 19 }), Options{}, ReasonIPv4BadLength},
		{"ipv4 checksum", frameIPv4(t, 17, udpHdr(8, 8), func(ip []byte) { ip[ipv4Checksum]++ }), Options{IPv4Checksum: ChecksumVerify}, ReasonIPv4BadChecksum},
		{"ipv4 checksum nonzero", frameIPv4(t, 17, udpHdr(8, 8), func(ip []byte) { ip[ipv4Checksum]++ }), Options{IPv4Checksum: ChecksumVerifyNonZero}, ReasonIPv4BadChecksum},
		{"ipv4 options", serialize(t, eth(layers.EthernetTypeIPv4), &layers.IPv4{Version: 4, TTL: 1, Protocol: 17, SrcIP: v4A, DstIP: v4B,
			Options: []layers.IPv4Option{{OptionType: 7, OptionLength: 3, OptionData: []byte{3}}, {OptionType: 0}}}, gopacket.Payload(udpHdr(8, 8))),
			Options{IPv4Options: true}, ReasonIPv4BadOptions},
		{"ipv6 short", rawEth(EtherTypeIPv6, append([]byte{0x60}, make([]byte, 38)...)), Options{}, ReasonIPv6Truncated},
		{"ipv6 version", frameIPv6(t, 17, udpHdr(8, 8), func(ip []byte) { ip[0] = 0x40 }), Options{}, ReasonIPv6BadVersion},
		{"ipv6 length", frameIPv6(t, 17, udpHdr(8, 8), func(ip []byte) { ip[5]++ }), Options{}, ReasonIPv6BadLength},
		{"ipv6 ext cut", frameIPv6(t, 60, ext(17, 1, 8), nil), Options{}, ReasonIPv6ExtTruncated},
		{"ipv6 ext no room", frameIPv6(t, 60, []byte{17}, nil), Options{}, ReasonIPv6ExtTruncated},
		// ipv6_rcv parses a first hop-by-hop header before netfilter and
		// drops the packet when it is cut short or an option overruns it;
		// one after another extension header is only skipped (as
		// conntrack's ipv6_skip_exthdr does).
		{"ipv6 hbh option past end", frameIPv6(t, 0, append([]byte{17, 0, 1, 5, 0, 0, 0, 0}, udpHdr(8, 8)...), nil), Options{}, ReasonIPv6BadHopOpts},
		{"ipv6 hbh cut", frameIPv6(t, 0, []byte{17, 1, 0, 0, 0, 0, 0, 0}, nil), Options{}, ReasonIPv6BadHopOpts},
		{"ipv6 hbh no room", frameIPv6(t, 0, []byte{17}, nil), Options{}, ReasonIPv6BadHopOpts},
		{"ipv6 no next header", frameIPv6(t, 59, udpHdr(8, 8), nil), Options{}, ReasonIPv6NoNextHeader},
		{"ipv6 hbh option past end after dstopts", frameIPv6(t, 60, append([]byte{0, 0, 1, 4, 0, 0, 0, 0, 17, 0, 1, 5, 0, 0, 0, 0}, udpHdr(8, 8)...), nil), Options{}, ReasonNone},
		{"ipv6 ext loop", frameIPv6(t, 60, func() []byte {
			var b []byte
			for range MaxIPv6ExtHdrs + 1 {
				b = append(b, ext(60, 0, 8)...)
			}
			return b
		}(), nil), Options{}, ReasonIPv6ExtLoop},
		{"ipv6 multicast source", frameIPv6(t, 17, udpHdr(8, 8), func(ip []byte) { ip[ipv6Src] = 0xff }), Options{}, ReasonBadAddress},
		{"ipv6 fragment beyond 64k", frameIPv6(t, 44, append([]byte{17, 0, 0xff, 0xf9, 0, 0, 0, 1}, make([]byte, 16)...), nil), Options{}, ReasonBadFragment},
		{"tcp short", frameIPv4(t, 6, make([]byte, 19), nil), Options{}, ReasonTCPTruncated},
		{"tcp doff 4", frameIPv4(t, 6, tcpHdr(4), nil), Options{}, ReasonTCPBadOffset},
		{"tcp doff beyond", frameIPv4(t, 6, tcpHdr(6), nil), Options{}, ReasonTCPBadOffset},
		{"udp short", frameIPv4(t, 17, make([]byte, 7), nil), Options{}, ReasonUDPTruncated},
		{"udp len 5", frameIPv4(t, 17, udpHdr(5, 8), nil), Options{}, ReasonUDPBadLength},
		{"udp len beyond", frameIPv4(t, 17, udpHdr(20, 12), nil), Options{}, ReasonUDPBadLength},
		{"icmp short", frameIPv4(t, 1, make([]byte, 7), nil), Options{}, ReasonICMPTruncated},
		{"icmpv6 short", frameIPv6(t, 58, make([]byte, 4), nil), Options{}, ReasonICMPTruncated},
		{"ipv6 first fragment without tcp header", frameIPv6(t, 44, append([]byte{6, 0, 0, 1, 0, 0, 0, 1}, make([]byte, 8)...), nil), Options{}, ReasonTCPTruncated},
		{"ipv6 first fragment without udp header", frameIPv6(t, 44, append([]byte{17, 0, 0, 1, 0, 0, 0, 1}, make([]byte, 4)...), nil), Options{}, ReasonUDPTruncated},
		{"udp len shorter than datagram", frameIPv4(t, 17, udpHdr(8, 12), nil), Options{}, ReasonNone},
		{"ipv4 security option of length 2", serialize(t, eth(layers.EthernetTypeIPv4), &layers.IPv4{Version: 4, TTL: 1, Protocol: 17, SrcIP: v4A, DstIP: v4B,
			Options: []layers.IPv4Option{{OptionType: 0x82, OptionLength: 2}, {OptionType: 0}}}, gopacket.Payload(udpHdr(8, 8))),
			Options{IPv4Options: true}, ReasonNone},
	} {
		var p Parsed
		r := ParseWith(tc.frame, LinkEthernet, tc.opt, &p)
		if r != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, r, tc.want)
		}
		seen[r] = true
		if r == ReasonNotIP && p.Family() != FamilyNone {
			t.Errorf("%s: not IP with family %d", tc.name, p.Family())
		}
	}
	for r := ReasonNotIP; r <= ReasonBadAddress; r++ {
		switch r {
		case ReasonTCPBadOptions, ReasonICMPInnerTruncated, ReasonICMPInnerBad:
			continue // never returned (inner reasons go to ICMPInfo.InnerReason)
		}
		if !seen[r] {
			t.Errorf("reason %q not reached", r)
		}
	}
}

func TestParseFragments(t *testing.T) {
	// IPv4 first fragment holding 8 bytes of TCP: ports read, no failure.
	ip := ip4(layers.IPProtocolTCP)
	ip.Flags = layers.IPv4MoreFragments
	tcp8 := []byte{0x30, 0x39, 0x1f, 0x90, 0, 0, 0, 1}
	f := serialize(t, eth(layers.EthernetTypeIPv4), ip, gopacket.Payload(tcp8))
	var p Parsed
	if r := Parse(f, LinkEthernet, &p); r != ReasonNone {
		t.Fatal(r)
	}
	if !p.Fragment.Is || !p.Fragment.More || p.Fragment.Offset != 0 || p.Fragment.ID != 7 || p.Tuple.SrcPort != 12345 ||
		p.Tuple.DstPort != 8080 || p.L4Off != 34 || p.FragDataOff != 34 {
		t.Errorf("first: %+v %+v L4 %d", p.Fragment, p.Tuple, p.L4Off)
	}
	// Non-first fragment: no transport header; the payload is the data.
	ip.FragOffset = 1
	ip.Flags = 0
	f = serialize(t, eth(layers.EthernetTypeIPv4), ip, gopacket.Payload(make([]byte, 12)))
	if r := Parse(f, LinkEthernet, &p); r != ReasonNone {
		t.Fatal(r)
	}
	if !p.Fragment.Is || p.Fragment.More || p.Fragment.Offset != 8 || p.L4Off != 0 || p.Tuple.SrcPort != 0 ||
		p.PayloadOff != 34 || p.PayloadLen != 12 {
		t.Errorf("second: %+v L4 %d payload %d+%d", p.Fragment, p.L4Off, p.PayloadOff, p.PayloadLen)
	}
	// IPv6 non-first fragment behind a destination options header.
	pl := append([]byte{44, 0, 1, 4, 0, 0, 0, 0}, []byte{17, 0, 0, 16, 0xab, 0xcd, 0xef, 0x01}...)
	pl = append(pl, make([]byte, 24)...)
	f = frameIPv6(t, 60, pl, nil)
	if r := Parse(f, LinkEthernet, &p); r != ReasonNone {
		t.Fatal(r)
	}
	if !p.Fragment.Is || p.Fragment.Offset != 16 || p.Fragment.More || p.Fragment.ID != 0xabcdef01 || p.Tuple.Proto != ProtoUDP ||
		p.L4Off != 0 || p.FragDataOff != 14+40+16 || p.PayloadLen != 24 {
		t.Errorf("v6: %+v proto %d L4 %d fragdata %d payload %d", p.Fragment, p.Tuple.Proto, p.L4Off, p.FragDataOff, p.PayloadLen)
	}
}

func TestParseTCPOptionsLenient(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []byte
		want TCPInfo
	}{
		{"mss then eol", []byte{2, 4, 1, 0, 0, 3, 3, 9}, TCPInfo{MSS: 256}},
		{"zero length stops", []byte{3, 3, 5, 8, 0, 2, 4, 1, 0}, TCPInfo{WScale: 5, HasWScale: true}},
		{"length past end stops", []byte{4, 2, 8, 10, 0, 0}, TCPInfo{SACKPerm: true}},
		{"wrong length skipped", []byte{2, 3, 9, 4, 2}, TCPInfo{SACKPerm: true}},
		{"lone kind", []byte{1, 1, 2}, TCPInfo{}},
		{"timestamps", []byte{8, 10, 0, 0, 0, 1, 0, 0, 0, 2}, TCPInfo{HasTS: true, TSVal: 1, TSEcr: 2}},
		{"wscale 255 kept", []byte{3, 3, 255}, TCPInfo{WScale: 255, HasWScale: true}},
	} {
		var got TCPInfo
		ParseTCPOptions(tc.opts, &got)
		if got != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestIPv4OptionsValid(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []byte
		want bool
	}{
		{"nop eol", []byte{1, 0, 0, 0}, true},
		{"security len 2 (Linux accepts)", []byte{0x82, 2, 0, 0}, true},
		{"length 1", []byte{0x82, 1, 0, 0}, false},
		{"length past end", []byte{0x82, 6, 0, 0}, false},
		{"rr pointer 3", []byte{7, 7, 3, 0, 0, 0, 0, 0}, false},
		{"rr ok", []byte{7, 7, 4, 0, 0, 0, 0, 0}, true},
		{"rr twice", []byte{7, 3, 4, 7, 3, 4, 0, 0}, false},
		{"ts short", []byte{68, 3, 5, 0}, false},
		{"ts ok", []byte{68, 8, 5, 0, 0, 0, 0, 0}, true},
		{"ra short", []byte{148, 2, 0, 0}, false},
		{"ra ok", []byte{148, 4, 0, 0}, true},
		{"lone kind at end", []byte{1, 1, 1, 0x82}, false},
	} {
		h := make([]byte, 20+len(tc.opts))
		h[0] = byte(0x40 | len(h)/4)
		copy(h[20:], tc.opts)
		if got := IPv4(h).OptionsValid(); got != tc.want {
			t.Errorf("%s: got %v", tc.name, got)
		}
	}
}

func TestParseAllocs(t *testing.T) {
	ip := ip4(layers.IPProtocolTCP)
	f := serialize(t, eth(layers.EthernetTypeIPv4), ip, tcpSyn(ip))
	ip6 := ip6(layers.IPProtocolICMPv6)
	un := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(1, 4)}
	_ = un.SetNetworkLayerForChecksum(ip6)
	g := serialize(t, eth(layers.EthernetTypeIPv6), ip6, un, gopacket.Payload(make([]byte, 4)), gopacket.Payload(f[14:]))
	var p Parsed
	if n := testing.AllocsPerRun(1000, func() {
		Parse(f, LinkEthernet, &p)
		ParseWith(g, LinkEthernet, Options{IPv4Checksum: ChecksumVerify, IPv4Options: true}, &p)
	}); n != 0 {
		t.Errorf("Parse allocates %v times per run", n)
	}
}

func TestReasonClasses(t *testing.T) {
	if ReasonNone.IsParseFailure() || !ReasonNotIP.IsParseFailure() || !ReasonBadAddress.IsParseFailure() || ReasonTCPInvalidFlags.IsParseFailure() {
		t.Error("IsParseFailure bounds")
	}
	if !ReasonIPv4BadLength.IPLayerDrop() || ReasonUDPBadLength.IPLayerDrop() || ReasonTCPTruncated.IPLayerDrop() {
		t.Error("IPLayerDrop")
	}
}

// TestParseLargestDatagrams checks that offsets hold for datagrams whose
// end lies beyond 64 KiB into the frame.
func TestParseLargestDatagrams(t *testing.T) {
	ip := ip4(layers.IPProtocolTCP)
	tcp := &layers.TCP{SrcPort: 1, DstPort: 2, ACK: true, DataOffset: 5}
	_ = tcp.SetNetworkLayerForChecksum(ip)
	f := serialize(t, eth(layers.EthernetTypeQinQ), &layers.Dot1Q{Type: layers.EthernetTypeDot1Q},
		&layers.Dot1Q{Type: layers.EthernetTypeIPv4}, ip, tcp, gopacket.Payload(make([]byte, 65535-40)))
	var p Parsed
	if r := Parse(f, LinkEthernet, &p); r != ReasonNone {
		t.Fatal(r)
	}
	if p.IPLen != 65535 || len(p.Payload()) != 65535-40 || int(p.PayloadOff)+int(p.PayloadLen) != len(f) {
		t.Errorf("iplen %d payload %d+%d of %d", p.IPLen, p.PayloadOff, p.PayloadLen, len(f))
	}
	v6 := ip6(layers.IPProtocolUDP)
	udp := &layers.UDP{SrcPort: 1, DstPort: 2}
	_ = udp.SetNetworkLayerForChecksum(v6)
	g := serialize(t, eth(layers.EthernetTypeIPv6), v6, udp, gopacket.Payload(make([]byte, 65495-8)))
	if r := Parse(g, LinkEthernet, &p); r != ReasonNone || len(p.Payload()) != 65495-8 {
		t.Errorf("IPv6 of 65535 bytes: %q, payload %d", r, len(p.Payload()))
	}
	g = serialize(t, eth(layers.EthernetTypeIPv6), v6, udp, gopacket.Payload(make([]byte, 65500)))
	if r := Parse(g, LinkEthernet, &p); r != ReasonIPv6BadLength {
		t.Errorf("IPv6 datagram over 65535 bytes: %q", r)
	}
}
