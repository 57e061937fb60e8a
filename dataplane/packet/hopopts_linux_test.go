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
	ip[0] = 0x60
	binary.BigEndian.PutUint16(ip[4:], uint16(len(ext)+len(udp)))
	ip[6], ip[7] = nh, 64
	copy(ip[8:], src.To16())
	copy(ip[24:], dst.To16())
	f := append(append([]byte{}, dstMAC...), srcMAC...)
	f = append(f, 0x86, 0xdd)
	return append(append(append(f, ip...), ext...), udp...)
}

// TestHopOptsAsLinux sends every hopOptsCases datagram into a network
// namespace whose nftables count, in the PRE_ROUTING hook after
// conntrack, the packets that arrive and their ct state, and compares
// with what ParseWith says: an IP-layer drop must not arrive, anything
// else must arrive NEW (valid) or INVALID (a parse failure conntrack sees).
func TestHopOptsAsLinux(t *testing.T) {
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
	ns := fmt.Sprintf("swhbh%d", os.Getpid())
	host, peer := fmt.Sprintf("swh%d", os.Getpid()%100000), fmt.Sprintf("swp%d", os.Getpid()%100000)
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	inNS := func(args ...string) string { return run(append([]string{"ip", "netns", "exec", ns}, args...)...) }
	run("ip", "netns", "add", ns)
	t.Cleanup(func() {
		_ = exec.Command("ip", "link", "del", host).Run()
		_ = exec.Command("ip", "netns", "del", ns).Run()
	})
	run("ip", "link", "add", host, "type", "veth", "peer", "name", peer, "netns", ns)
	inNS("sysctl", "-qw", "net.ipv6.conf."+peer+".accept_dad=0")
	inNS("ip", "addr", "add", "fd00:5:b::2/64", "dev", peer, "nodad")
	inNS("ip", "link", "set", peer, "up")
	run("ip", "link", "set", host, "up")
	cmd := exec.Command("ip", "netns", "exec", ns, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(`
table inet swhbh {
	counter seen {}
	counter seen_new {}
	counter seen_invalid {}
	chain pre {
		type filter hook prerouting priority -150; policy drop;
		ip6 daddr fd00:5:b::2 counter name "seen"
		ip6 daddr fd00:5:b::2 ct state new counter name "seen_new"
		ip6 daddr fd00:5:b::2 ct state invalid counter name "seen_invalid"
	}
}
`)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft: %v\n%s", err, out)
	}
	peerIf := inNS("cat", "/sys/class/net/"+peer+"/address")
	dstMAC, err := net.ParseMAC(strings.TrimSpace(peerIf))
	if err != nil {
		t.Fatal(err)
	}
	hostIf, err := net.InterfaceByName(host)
	if err != nil {
		t.Fatal(err)
	}
	fd, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_RAW, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	to := &syscall.SockaddrLinklayer{Ifindex: hostIf.Index, Halen: 6}
	copy(to.Addr[:], dstMAC)
	counter := regexp.MustCompile(`packets (\d+)`)
	read := func(name string) int {
		m := counter.FindStringSubmatch(inNS("nft", "list", "counter", "inet", "swhbh", name))
		if m == nil {
			t.Fatalf("counter %s unreadable", name)
		}
		n, _ := strconv.Atoi(m[1])
		return n
	}
	src, dst := net.ParseIP("fd00:5:b::1"), net.ParseIP("fd00:5:b::2")
	for i, c := range hopOptsCases {
		inNS("nft", "reset", "counters", "table", "inet", "swhbh")
		frame := hopOptsDatagram(hostIf.HardwareAddr, dstMAC, src, dst, c.nh, c.opts, uint16(20000+i))
		if err := syscall.Sendto(fd, frame, 0, to); err != nil {
			t.Fatal(err)
		}
		// The veth delivers synchronously in the sender's context; the
		// counters are read after the send returns.
		arrived, isNew, invalid := read("seen"), read("seen_new"), read("seen_invalid")
		linux := "NONE"
		switch {
		case arrived == 0:
		case isNew == 1:
			linux = "NEW"
		case invalid == 1:
			linux = "INVALID"
		default:
			linux = fmt.Sprintf("arrived %d, new %d, invalid %d", arrived, isNew, invalid)
		}
		var p Parsed
		ours := "NEW"
		if r := ParseWith(frame, LinkEthernet, Options{}, &p); r.IPLayerDrop() {
			ours = "NONE"
		} else if r != ReasonNone {
			ours = "INVALID"
		}
		if ours != linux {
			t.Errorf("%s: Linux %s, ParseWith %s", c.name, linux, ours)
		} else {
			t.Logf("%s: %s", c.name, linux)
		}
	}
}
