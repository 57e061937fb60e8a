package packet

import (
	"encoding/binary"
	"testing"

	"github.com/google/gopacket/layers"
)

// TestFast6 checks what ParseTCP6 and ParseUDP6 take and what they leave
// to ParseWith, and that they read what ParseWith reads (checkFast6).
func TestFast6(t *testing.T) {
	seg := make([]byte, 24) // a TCP header with 4 bytes of options, no data
	seg[tcpDataOff] = 6 << 4
	binary.BigEndian.PutUint16(seg[tcpSrcPort:], 40000)
	binary.BigEndian.PutUint16(seg[tcpDstPort:], 80)
	binary.BigEndian.PutUint32(seg[tcpSeq:], 7)
	seg[tcpFlags] = TCPAck
	dgram := make([]byte, 12)
	binary.BigEndian.PutUint16(dgram[udpLength:], 12)
	setAddr := func(off int, first byte) func(ip []byte) {
		return func(ip []byte) { ip[off] = first }
	}
	for _, c := range []struct {
		name     string
		frame    []byte
		tcp, udp bool
	}{
		{"tcp", frameIPv6(t, layers.IPProtocolTCP, seg, nil), true, false},
		{"udp", frameIPv6(t, layers.IPProtocolUDP, dgram, nil), false, true},
		{"tcp with padding after the datagram", append(frameIPv6(t, layers.IPProtocolTCP, seg, nil), 0, 0), true, false},
		{"tcp header longer than the payload", frameIPv6(t, layers.IPProtocolTCP, seg[:22], nil), false, false},
		{"udp length beyond the payload", frameIPv6(t, layers.IPProtocolUDP, dgram[:10], nil), false, false},
		{"payload length beyond the frame", frameIPv6(t, layers.IPProtocolTCP, seg, func(ip []byte) { ip[ipv6PayloadLen+1]++ }), false, false},
		{"version 4 in an IPv6 frame", frameIPv6(t, layers.IPProtocolTCP, seg, func(ip []byte) { ip[0] = 0x40 }), false, false},
		{"hop-by-hop header first", frameIPv6(t, layers.IPProtocolIPv6HopByHop, append([]byte{6, 0, 1, 4, 0, 0, 0, 0}, seg...), nil), false, false},
		{"multicast source", frameIPv6(t, layers.IPProtocolTCP, seg, setAddr(ipv6Src, 0xff)), false, false},
		{"multicast destination", frameIPv6(t, layers.IPProtocolUDP, dgram, setAddr(ipv6Dst, 0xff)), false, false},
		{"source in ::/8", frameIPv6(t, layers.IPProtocolTCP, seg, setAddr(ipv6Src, 0)), false, false},
		{"destination in ::/8", frameIPv6(t, layers.IPProtocolUDP, dgram, setAddr(ipv6Dst, 0)), false, false},
		{"link-local source", frameIPv6(t, layers.IPProtocolTCP, seg, setAddr(ipv6Src, 0xfe)), true, false},
		{"global destination", frameIPv6(t, layers.IPProtocolTCP, seg, setAddr(ipv6Dst, 0x20)), true, false},
		{"IPv4", frameIPv4(t, layers.IPProtocolTCP, seg, nil), false, false},
	} {
		var (
			s TCP6
			u UDP6
		)
		if tcp, udp := ParseTCP6(c.frame, &s), ParseUDP6(c.frame, &u); tcp != c.tcp || udp != c.udp {
			t.Errorf("%s: ParseTCP6 %v, ParseUDP6 %v; want %v, %v", c.name, tcp, udp, c.tcp, c.udp)
		}
		checkFast6(t, c.frame, Options{})
	}
	var s TCP6
	ParseTCP6(frameIPv6(t, layers.IPProtocolTCP, seg, nil), &s)
	if s.SrcPort != 40000 || s.DstPort != 80 || s.Seq != 7 || s.Flags != TCPAck || s.HeaderLen != 24 || s.PayloadLen != 0 ||
		s.Src != addr6(v6A) || s.Dst != addr6(v6B) {
		t.Errorf("read %+v", s)
	}
}
