package packet

import (
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
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
	binary.BigEndian.PutUint32(ip, 6<<28|oracleMark6)
	binary.BigEndian.PutUint16(ip[4:], uint16(len(ext)+len(udp)))
	ip[6], ip[7] = nh, 64
	copy(ip[8:], src.To16())
	copy(ip[24:], dst.To16())
	f := append(append([]byte{}, dstMAC...), srcMAC...)
	f = append(f, 0x86, 0xdd)
	return append(append(append(f, ip...), ext...), udp...)
}

// linuxOracle is a network namespace reached through a veth, whose
// nftables count, in the PRE_ROUTING hook after conntrack, the packets to
// it (marked: oracleMark4, oracleMark6) and their ct state: Linux itself
// says what becomes of a frame.
type linuxOracle struct {
	t       *testing.T
	ns      string
	fd      int
	to      *syscall.SockaddrLinklayer
	src     net.HardwareAddr // the sending end's MAC
	dst     net.HardwareAddr // the namespace end's MAC
	counter *regexp.Regexp
}

// Frames to the oracle carry these marks (the IPv4 ID, the IPv6 flow
// label), which its counters match, whatever the addresses.
const (
	oracleMark4 = 0x5b5b
	oracleMark6 = 0x5b5b5
)

// The namespace's addresses, and the peer's that frames come from.
var (
	oracleV4, oracleV4Peer = net.IPv4(198, 18, 5, 2).To4(), net.IPv4(198, 18, 5, 1).To4()
	oracleV6, oracleV6Peer = net.ParseIP("fd00:5:b::2"), net.ParseIP("fd00:5:b::1")
)

// newLinuxOracle sets up the namespace (removed when the test ends). It
// skips without root.
func newLinuxOracle(t *testing.T) *linuxOracle {
	if os.Getuid() != 0 {
		t.Skip("needs root (a network namespace, nftables, a raw socket)")
	}
	for _, tool := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s not installed (.ci/run installs it)", tool)
			}
			t.Skipf("%s not installed", tool)
		}
	}
	o := &linuxOracle{t: t, ns: fmt.Sprintf("sworc%d", os.Getpid()), counter: regexp.MustCompile(`packets (\d+)`)}
	host, peer := fmt.Sprintf("swh%d", os.Getpid()%100000), fmt.Sprintf("swp%d", os.Getpid()%100000)
	o.run("ip", "netns", "add", o.ns)
	t.Cleanup(func() {
		_ = exec.Command("ip", "link", "del", host).Run()
		_ = exec.Command("ip", "netns", "del", o.ns).Run()
	})
	o.run("ip", "link", "add", host, "type", "veth", "peer", "name", peer, "netns", o.ns)
	o.inNS("sysctl", "-qw", "net.ipv6.conf."+peer+".accept_dad=0")
	o.inNS("ip", "addr", "add", oracleV6.String()+"/64", "dev", peer, "nodad")
	o.inNS("ip", "addr", "add", oracleV4.String()+"/24", "dev", peer)
	o.inNS("ip", "link", "set", peer, "up")
	o.run("ip", "link", "set", host, "up")
	cmd := exec.Command("ip", "netns", "exec", o.ns, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(`
table inet sworacle {
	counter seen {}
	counter seen_new {}
	counter seen_invalid {}
	chain pre {
		type filter hook prerouting priority -150; policy drop;
		ip id ` + strconv.Itoa(oracleMark4) + ` counter name "seen"
		ip id ` + strconv.Itoa(oracleMark4) + ` ct state new counter name "seen_new"
		ip id ` + strconv.Itoa(oracleMark4) + ` ct state invalid counter name "seen_invalid"
		ip6 flowlabel ` + strconv.Itoa(oracleMark6) + ` counter name "seen"
		ip6 flowlabel ` + strconv.Itoa(oracleMark6) + ` ct state new counter name "seen_new"
		ip6 flowlabel ` + strconv.Itoa(oracleMark6) + ` ct state invalid counter name "seen_invalid"
	}
}
`)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft: %v\n%s", err, out)
	}
	mac, err := net.ParseMAC(strings.TrimSpace(o.inNS("cat", "/sys/class/net/"+peer+"/address")))
	if err != nil {
		t.Fatal(err)
	}
	hostIf, err := net.InterfaceByName(host)
	if err != nil {
		t.Fatal(err)
	}
	o.src, o.dst = hostIf.HardwareAddr, mac
	if o.fd, err = syscall.Socket(syscall.AF_PACKET, syscall.SOCK_RAW, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(o.fd) })
	o.to = &syscall.SockaddrLinklayer{Ifindex: hostIf.Index, Halen: 6}
	copy(o.to.Addr[:], mac)
	return o
}

func (o *linuxOracle) run(args ...string) string {
	o.t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		o.t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (o *linuxOracle) inNS(args ...string) string {
	return o.run(append([]string{"ip", "netns", "exec", o.ns}, args...)...)
}

func (o *linuxOracle) count(name string) int {
	m := o.counter.FindStringSubmatch(o.inNS("nft", "list", "counter", "inet", "sworacle", name))
	if m == nil {
		o.t.Fatalf("counter %s unreadable", name)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// state sends frame (Ethernet, to the namespace's MAC) and returns what
// Linux made of it: NONE (it never reached PRE_ROUTING), NEW or INVALID.
func (o *linuxOracle) state(frame []byte) string {
	o.inNS("nft", "reset", "counters", "table", "inet", "sworacle")
	if err := syscall.Sendto(o.fd, frame, 0, o.to); err != nil {
		o.t.Fatal(err)
	}
	// The veth delivers in the sender's context: the counters are final
	// when Sendto returns.
	seen, isNew, invalid := o.count("seen"), o.count("seen_new"), o.count("seen_invalid")
	switch {
	case seen == 0:
		return "NONE"
	case isNew == 1:
		return "NEW"
	case invalid == 1:
		return "INVALID"
	}
	return fmt.Sprintf("seen %d, new %d, invalid %d", seen, isNew, invalid)
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
	o := newLinuxOracle(t)
	for i, c := range hopOptsCases {
		frame := hopOptsDatagram(o.src, o.dst, oracleV6Peer, oracleV6, c.nh, c.opts, uint16(20000+i))
		if linux, ours := o.state(frame), parseState(frame); ours != linux {
			t.Errorf("%s: Linux %s, ParseWith %s", c.name, linux, ours)
		} else {
			t.Logf("%s: %s", c.name, linux)
		}
	}
}

// udpFrame is the Ethernet frame of a UDP datagram to port 5678 (4 bytes
// of data, checksums right) from src to dst, IPv4 or IPv6 as they are,
// marked for the oracle; fix then changes the IP packet (the IPv4 header
// checksum is redone after it unless fix changed the checksum).
func (o *linuxOracle) udpFrame(src, dst net.IP, sport uint16, fix func(ip []byte)) []byte {
	udp := []byte{0, 0, 0x16, 0x2e, 0, 12, 0, 0, 'o', 'r', 'c', 'l'}
	binary.BigEndian.PutUint16(udp, sport)
	f := append(append([]byte{}, o.dst...), o.src...)
	var ip []byte
	if s4, d4 := src.To4(), dst.To4(); s4 != nil && d4 != nil {
		initial := uint32(Checksum(s4, 0)) + uint32(Checksum(d4, 0)) + uint32(ProtoUDP) + uint32(len(udp))
		binary.BigEndian.PutUint16(udp[6:], ^Checksum(udp, initial))
		ip = []byte{0x45, 0, 0, 0, oracleMark4 >> 8, oracleMark4 & 0xff, 0x40, 0, 64, ProtoUDP, 0, 0}
		binary.BigEndian.PutUint16(ip[2:], uint16(IPv4MinSize+len(udp)))
		ip = append(append(append(ip, s4...), d4...), udp...)
		f = append(f, 0x08, 0x00)
	} else {
		initial := uint32(Checksum(src.To16(), 0)) + uint32(Checksum(dst.To16(), 0)) + uint32(ProtoUDP) + uint32(len(udp))
		binary.BigEndian.PutUint16(udp[6:], ^Checksum(udp, initial))
		ip = make([]byte, IPv6Size, IPv6Size+len(udp))
		binary.BigEndian.PutUint32(ip, 6<<28|oracleMark6)
		binary.BigEndian.PutUint16(ip[4:], uint16(len(udp)))
		ip[6], ip[7] = ProtoUDP, 64
		copy(ip[8:], src.To16())
		copy(ip[24:], dst.To16())
		ip = append(ip, udp...)
		f = append(f, 0x86, 0xdd)
	}
	v4 := ip[0]>>4 == 4
	if v4 {
		binary.BigEndian.PutUint16(ip[10:], ^Checksum(ip[:IPv4MinSize], 0))
	}
	sum := binary.BigEndian.Uint16(ip[10:])
	fix(ip)
	if v4 && binary.BigEndian.Uint16(ip[10:]) == sum { // fix left the checksum: redo it
		ip[10], ip[11] = 0, 0
		binary.BigEndian.PutUint16(ip[10:], ^Checksum(ip[:IPv4MinSize], 0))
	}
	return append(f, ip...)
}

// TestIPLayerAsLinux asks Linux what its IP layer does with datagrams
// whose addresses or lengths are unusual, and compares with ParseWith.
func TestIPLayerAsLinux(t *testing.T) {
	o := newLinuxOracle(t)
	ip := net.ParseIP
	keep := func(b []byte) {}
	cases := []struct {
		name     string
		src, dst net.IP
		fix      func(ip []byte)
	}{
		{"ipv6", oracleV6Peer, oracleV6, keep},
		{"ipv6 to ::1", oracleV6Peer, ip("::1"), keep},
		{"ipv6 from ::1", ip("::1"), oracleV6, keep},
		{"ipv6 from ::", ip("::"), oracleV6, keep},
		{"ipv6 from v4-mapped", ip("::ffff:198.18.5.1"), oracleV6, keep},
		{"ipv6 to v4-mapped", oracleV6Peer, ip("::ffff:198.18.5.2"), keep},
		{"ipv6 to multicast scope 0", oracleV6Peer, ip("ff00::1"), keep},
		{"ipv6 to interface-local multicast", oracleV6Peer, ip("ff01::1"), keep},
		{"ipv6 to link-local all nodes", oracleV6Peer, ip("ff02::1"), keep},
		{"ipv6 from itself", oracleV6, oracleV6, keep},
		{"ipv6 trailing bytes", oracleV6Peer, oracleV6, func(b []byte) { b[5] -= 2 }},
		{"ipv6 payload length beyond", oracleV6Peer, oracleV6, func(b []byte) { b[5] += 2 }},
		{"ipv4", oracleV4Peer, oracleV4, keep},
		{"ipv4 checksum zero", oracleV4Peer, oracleV4, func(b []byte) { b[10], b[11] = 0, 0 }},
		{"ipv4 to 127.0.0.1", oracleV4Peer, ip("127.0.0.1"), keep},
		{"ipv4 from 127.0.0.1", ip("127.0.0.1"), oracleV4, keep},
		{"ipv4 from multicast", ip("224.0.0.9"), oracleV4, keep},
		{"ipv4 from 0.0.0.0", ip("0.0.0.0"), oracleV4, keep},
		{"ipv4 to broadcast", oracleV4Peer, ip("255.255.255.255"), keep},
		{"ipv4 trailing bytes", oracleV4Peer, oracleV4, func(b []byte) { b[3] -= 2 }},
		{"ipv4 total length beyond", oracleV4Peer, oracleV4, func(b []byte) { b[3] += 2 }},
		{"ipv4 ttl 0", oracleV4Peer, oracleV4, func(b []byte) { b[8] = 0 }},
		{"ipv4 protocol 253", oracleV4Peer, oracleV4, func(b []byte) { b[9] = 253 }},
		{"ipv4 total length below header", oracleV4Peer, oracleV4, func(b []byte) { b[3] = 16 }},
		{"ipv4 ihl 4", oracleV4Peer, oracleV4, func(b []byte) { b[0] = 0x44 }},
		{"ipv4 version 5", oracleV4Peer, oracleV4, func(b []byte) { b[0] = 0x55 }},
		{"ipv6 hop limit 0", oracleV6Peer, oracleV6, func(b []byte) { b[7] = 0 }},
		{"ipv6 no next header", oracleV6Peer, oracleV6, func(b []byte) { b[6] = 59 }},
		{"ipv6 next header 253", oracleV6Peer, oracleV6, func(b []byte) { b[6] = 253 }},
		{"ipv6 udp length short", oracleV6Peer, oracleV6, func(b []byte) { b[IPv6Size+5] = 6 }},
		{"ipv6 udp length zero", oracleV6Peer, oracleV6, func(b []byte) { b[IPv6Size+5] = 0 }},
	}
	for i, c := range cases {
		frame := o.udpFrame(c.src, c.dst, uint16(30000+i), c.fix)
		if linux, ours := o.state(frame), parseState(frame); ours != linux {
			t.Errorf("%s: Linux %s, ParseWith %s", c.name, linux, ours)
		} else {
			t.Logf("%s: %s", c.name, linux)
		}
	}
}
