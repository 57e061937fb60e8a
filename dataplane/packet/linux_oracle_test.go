package packet

import (
	"encoding/binary"
	"net"
	"testing"

	"github.com/statewall/statewall/dataplane/packet/linuxoracle"
)

// hopOptsCases are IPv6 datagrams (to UDP port 5678) whose first
// extension header carries the options given, each asked of Linux and of
// ParseWith: whether the packet reaches netfilter at all (ipv6_rcv parses
// a first hop-by-hop header before the PRE_ROUTING hook) and, if so, in
// which conntrack state.
var hopOptsCases = []struct {
	name string
	nh   uint8  // IPv6HopByHop or IPv6DestOpts
	opts []byte // the options, padded by the test to a multiple of 8 with the 2-byte header
}{
	{"pad1 only", IPv6HopByHop, []byte{0, 0, 0, 0, 0, 0}},
	{"padn 4", IPv6HopByHop, []byte{1, 4, 0, 0, 0, 0}},
	{"padn nonzero", IPv6HopByHop, []byte{1, 4, 0, 0, 7, 0}},
	{"padn overruns", IPv6HopByHop, []byte{1, 5, 0, 0, 0, 0}},
	{"unknown skip", IPv6HopByHop, []byte{0x1e, 4, 0, 0, 0, 0}},
	{"unknown discard", IPv6HopByHop, []byte{0x5e, 4, 0, 0, 0, 0}},
	{"unknown discard icmp", IPv6HopByHop, []byte{0x9e, 4, 0, 0, 0, 0}},
	{"unknown discard icmp unicast", IPv6HopByHop, []byte{0xde, 4, 0, 0, 0, 0}},
	{"router alert", IPv6HopByHop, []byte{5, 2, 0, 0, 1, 0}},
	{"router alert bad length", IPv6HopByHop, []byte{5, 4, 0, 0, 0, 0}},
	{"calipso short", IPv6HopByHop, []byte{7, 4, 0, 0, 0, 0}},
	{"calipso", IPv6HopByHop, []byte{7, 8, 0, 0, 0, 1, 0, 0, 0, 0, 1, 4, 0, 0, 0, 0}},
	{"ioam short", IPv6HopByHop, []byte{0x31, 1, 0, 1, 2, 0}},
	{"ioam other type", IPv6HopByHop, []byte{0x31, 4, 0, 9, 0, 0}},
	{"ioam trace short", IPv6HopByHop, []byte{0x31, 4, 0, 0, 0, 0}},
	{"ioam aligned other type", IPv6HopByHop, []byte{1, 0, 0x31, 4, 0, 9, 0, 0}},
	{"ioam aligned length 1", IPv6HopByHop, []byte{1, 0, 0x31, 1, 0, 1, 0}},
	{"ioam aligned trace short", IPv6HopByHop, []byte{1, 0, 0x31, 4, 0, 0, 0, 0}},
	{"ioam aligned trace", IPv6HopByHop, []byte{1, 0, 0x31, 10, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0}},
	{"jumbo with payload length", IPv6HopByHop, []byte{0xc2, 4, 0, 1, 0, 0}},
	{"padding run of 8", IPv6HopByHop, append([]byte{1, 6, 0, 0, 0, 0, 0, 0}, 1, 4, 0, 0, 0, 0)},
	{"pad1 run of 7 then option", IPv6HopByHop, []byte{0, 0, 0, 0, 0, 0, 0, 0x1e, 3, 0, 0, 0, 0, 0}},
	{"pad1 run of 8", IPv6HopByHop, []byte{0, 0, 0, 0, 0, 0, 0, 0, 0x1e, 2, 0, 0, 0, 0}},
	{"padn then pad1 past 7", IPv6HopByHop, []byte{1, 4, 0, 0, 0, 0, 0, 0, 0x1e, 2, 0, 0, 0, 0}},
	{"nine skippable options", IPv6HopByHop, []byte{
		0x1e, 0, 0x1e, 0, 0x1e, 0, 0x1e, 0, 0x1e, 0, 0x1e, 0, 0x1e, 0, 0x1e, 0, 0x1e, 0, 0, 0, 0, 0, 0}},
	{"eight skippable options", IPv6HopByHop, []byte{
		0x1e, 0, 0x1e, 0, 0x1e, 0, 0x1e, 0, 0x1e, 0, 0x1e, 0, 0x1e, 0, 0x1e, 0, 1, 4, 0, 0, 0, 0}},
	{"dstopts overrun", IPv6DestOpts, []byte{1, 5, 0, 0, 0, 0}},
	{"dstopts unknown discard", IPv6DestOpts, []byte{0x5e, 4, 0, 0, 0, 0}},
}

// hopOptsDatagram builds the Ethernet frame of case c from src to dst,
// UDP from sport to 5678 with a correct checksum.
func hopOptsDatagram(srcMAC, dstMAC net.HardwareAddr, src, dst net.IP, nh uint8, opts []byte, sport uint16) []byte {
	ext := append([]byte{ProtoUDP, 0}, opts...)
	for len(ext)%8 != 0 {
		ext = append(ext, 0) // Pad1
	}
	ext[1] = byte(len(ext)/8 - 1)
	udp := make([]byte, 8, 12)
	udp = append(udp, 'o', 'r', 'c', 'l')
	binary.BigEndian.PutUint16(udp[0:], sport)
	binary.BigEndian.PutUint16(udp[2:], 5678)
	binary.BigEndian.PutUint16(udp[4:], uint16(len(udp)))
	initial := uint32(Checksum(src.To16(), 0)) + uint32(Checksum(dst.To16(), 0)) + uint32(ProtoUDP) + uint32(len(udp))
	binary.BigEndian.PutUint16(udp[6:], ^Checksum(udp, initial))
	ip := make([]byte, IPv6Size)
	binary.BigEndian.PutUint32(ip, 6<<28|linuxoracle.Mark6)
	binary.BigEndian.PutUint16(ip[4:], uint16(len(ext)+len(udp)))
	ip[6], ip[7] = nh, 64
	copy(ip[8:], src.To16())
	copy(ip[24:], dst.To16())
	f := append(append([]byte{}, dstMAC...), srcMAC...)
	f = append(f, 0x86, 0xdd)
	return append(append(append(f, ip...), ext...), udp...)
}

// parseState is ParseWith's answer in the oracle's terms, with the
// checks statewalld makes by default (IPv4 header checksums verified): an
// IP-layer drop is NONE, another parse failure INVALID, a parsed packet
// NEW.
func parseState(frame []byte) string {
	var p Parsed
	r := ParseWith(frame, LinkEthernet, Options{IPv4Checksum: ChecksumVerify}, &p)
	switch {
	case r.IPLayerDrop():
		return "NONE"
	case r != ReasonNone:
		return "INVALID"
	}
	return "NEW"
}

// TestHopOptsAsLinux asks Linux about every hopOptsCases datagram and
// compares with ParseWith.
func TestHopOptsAsLinux(t *testing.T) {
	o := linuxoracle.New(t)
	for i, c := range hopOptsCases {
		frame := hopOptsDatagram(o.Src, o.Dst, linuxoracle.V6Peer, linuxoracle.V6, c.nh, c.opts, uint16(20000+i))
		if linux, ours := o.State(frame), parseState(frame); ours != linux {
			t.Errorf("%s: Linux %s, ParseWith %s", c.name, linux, ours)
		} else {
			t.Logf("%s: %s", c.name, linux)
		}
	}
}

// udpFrame is the Ethernet frame of a UDP datagram to port 5678 (4 bytes
// of data) from src to dst, IPv4 or IPv6 as they are, marked for the
// oracle; fix then changes the IP packet (the IPv4 header checksum is
// redone after it unless fix changed the checksum).
func udpFrame(o *linuxoracle.Oracle, src, dst net.IP, sport uint16, fix func(ip []byte)) []byte {
	udp := []byte{byte(sport >> 8), byte(sport), 0x16, 0x2e, 0, 12, 0, 0, 'o', 'r', 'c', 'l'}
	f := o.Frame(src, dst, ProtoUDP, udp, 6)
	ip := f[EthernetSize:]
	v4 := ip[0]>>4 == 4
	sum := binary.BigEndian.Uint16(ip[10:])
	fix(ip)
	if v4 && binary.BigEndian.Uint16(ip[10:]) == sum { // fix left the checksum: redo it
		ip[10], ip[11] = 0, 0
		binary.BigEndian.PutUint16(ip[10:], ^Checksum(ip[:IPv4MinSize], 0))
	}
	return f
}

// TestIPLayerAsLinux asks Linux what its IP layer does with datagrams
// whose addresses or lengths are unusual, and compares with ParseWith.
func TestIPLayerAsLinux(t *testing.T) {
	o := linuxoracle.New(t)
	ip := net.ParseIP
	keep := func(b []byte) {}
	cases := []struct {
		name     string
		src, dst net.IP
		fix      func(ip []byte)
	}{
		{"ipv6", linuxoracle.V6Peer, linuxoracle.V6, keep},
		{"ipv6 to ::1", linuxoracle.V6Peer, ip("::1"), keep},
		{"ipv6 from ::1", ip("::1"), linuxoracle.V6, keep},
		{"ipv6 from ::", ip("::"), linuxoracle.V6, keep},
		{"ipv6 from v4-mapped", ip("::ffff:198.18.5.1"), linuxoracle.V6, keep},
		{"ipv6 to v4-mapped", linuxoracle.V6Peer, ip("::ffff:198.18.5.2"), keep},
		{"ipv6 to multicast scope 0", linuxoracle.V6Peer, ip("ff00::1"), keep},
		{"ipv6 to interface-local multicast", linuxoracle.V6Peer, ip("ff01::1"), keep},
		{"ipv6 to link-local all nodes", linuxoracle.V6Peer, ip("ff02::1"), keep},
		{"ipv6 from itself", linuxoracle.V6, linuxoracle.V6, keep},
		{"ipv6 trailing bytes", linuxoracle.V6Peer, linuxoracle.V6, func(b []byte) { b[5] -= 2 }},
		{"ipv6 payload length beyond", linuxoracle.V6Peer, linuxoracle.V6, func(b []byte) { b[5] += 2 }},
		{"ipv4", linuxoracle.V4Peer, linuxoracle.V4, keep},
		{"ipv4 checksum zero", linuxoracle.V4Peer, linuxoracle.V4, func(b []byte) { b[10], b[11] = 0, 0 }},
		{"ipv4 to 127.0.0.1", linuxoracle.V4Peer, ip("127.0.0.1"), keep},
		{"ipv4 from 127.0.0.1", ip("127.0.0.1"), linuxoracle.V4, keep},
		{"ipv4 from multicast", ip("224.0.0.9"), linuxoracle.V4, keep},
		{"ipv4 from 0.0.0.0", ip("0.0.0.0"), linuxoracle.V4, keep},
		{"ipv4 to broadcast", linuxoracle.V4Peer, ip("255.255.255.255"), keep},
		{"ipv4 trailing bytes", linuxoracle.V4Peer, linuxoracle.V4, func(b []byte) { b[3] -= 2 }},
		{"ipv4 total length beyond", linuxoracle.V4Peer, linuxoracle.V4, func(b []byte) { b[3] += 2 }},
		{"ipv4 ttl 0", linuxoracle.V4Peer, linuxoracle.V4, func(b []byte) { b[8] = 0 }},
		{"ipv4 protocol 253", linuxoracle.V4Peer, linuxoracle.V4, func(b []byte) { b[9] = 253 }},
		{"ipv4 total length below header", linuxoracle.V4Peer, linuxoracle.V4, func(b []byte) { b[3] = 16 }},
		{"ipv4 ihl 4", linuxoracle.V4Peer, linuxoracle.V4, func(b []byte) { b[0] = 0x44 }},
		{"ipv4 version 5", linuxoracle.V4Peer, linuxoracle.V4, func(b []byte) { b[0] = 0x55 }},
		{"ipv6 hop limit 0", linuxoracle.V6Peer, linuxoracle.V6, func(b []byte) { b[7] = 0 }},
		{"ipv6 no next header", linuxoracle.V6Peer, linuxoracle.V6, func(b []byte) { b[6] = 59 }},
		{"ipv6 next header 253", linuxoracle.V6Peer, linuxoracle.V6, func(b []byte) { b[6] = 253 }},
		{"ipv6 udp length short", linuxoracle.V6Peer, linuxoracle.V6, func(b []byte) { b[IPv6Size+5] = 6 }},
		{"ipv6 udp length zero", linuxoracle.V6Peer, linuxoracle.V6, func(b []byte) { b[IPv6Size+5] = 0 }},
	}
	for i, c := range cases {
		frame := udpFrame(o, c.src, c.dst, uint16(30000+i), c.fix)
		if linux, ours := o.State(frame), parseState(frame); ours != linux {
			t.Errorf("%s: Linux %s, ParseWith %s", c.name, linux, ours)
		} else {
			t.Logf("%s: %s", c.name, linux)
		}
	}
}
