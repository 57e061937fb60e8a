// Package linuxoracle asks Linux itself what becomes of a frame: a
// network namespace behind a veth, whose nftables count, in the
// PRE_ROUTING hook after conntrack, the frames that arrive and their ct
// state. Tests of the parser and the tracker compare their answers with
// it. It needs root, ip and nft; without root a test using it skips.
package linuxoracle

import (
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// Oracle is a network namespace reached through a veth, whose
// nftables count, in the PRE_ROUTING hook after conntrack, the packets to
// it (marked: Mark4, Mark6) and their ct state: Linux itself
// says what becomes of a frame.
type Oracle struct {
	t       *testing.T
	ns      string
	fd      int
	to      *syscall.SockaddrLinklayer
	Src     net.HardwareAddr // the sending end's MAC
	Dst     net.HardwareAddr // the namespace end's MAC
	counter *regexp.Regexp
}

// Frames to the oracle carry these marks (the IPv4 ID, the IPv6 flow
// label), which its counters match, whatever the addresses.
const (
	Mark4 = 0x5b5b
	Mark6 = 0x5b5b5
)

// The namespace's addresses, and the peer's that frames come from.
var (
	V4, V4Peer = net.IPv4(198, 18, 5, 2).To4(), net.IPv4(198, 18, 5, 1).To4()
	V6, V6Peer = net.ParseIP("fd00:5:b::2"), net.ParseIP("fd00:5:b::1")
)

// New sets up the namespace (removed when the test ends), which drops
// every frame after counting it: each frame is asked about on its own
// (no connection is ever confirmed). It skips without root.
func New(t *testing.T) *Oracle { return setUp(t, false) }

// NewForwarding sets up a namespace that forwards, between the peer
// (V4Peer, V6Peer) and a server (V4Server, V6Server), the frames sent to
// it, as a firewall in the middle does: its connections are confirmed,
// so a conversation, both ways, can be asked about packet by packet.
// Both ends live in a second namespace of their own, which drops what
// comes back; nothing has a route out of the machine.
func NewForwarding(t *testing.T) *Oracle { return setUp(t, true) }

// The server's addresses for NewForwarding.
var (
	V4Server = net.IPv4(198, 18, 5, 3).To4()
	V6Server = net.ParseIP("fd00:5:b::3")
)

func setUp(t *testing.T, forward bool) *Oracle {
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
	o := &Oracle{t: t, ns: fmt.Sprintf("sworc%d", os.Getpid()), counter: regexp.MustCompile(`counter (\w+) \{\s*packets (\d+)`)}
	host, peer := fmt.Sprintf("swh%d", os.Getpid()%100000), fmt.Sprintf("swp%d", os.Getpid()%100000)
	ends := "" // the namespace of the sending end ("": this one)
	if forward {
		ends = o.ns + "e"
	}
	o.run("ip", "netns", "add", o.ns)
	t.Cleanup(func() {
		_ = exec.Command("ip", "link", "del", host).Run()
		_ = exec.Command("ip", "netns", "del", o.ns).Run()
		if ends != "" {
			_ = exec.Command("ip", "netns", "del", ends).Run()
		}
	})
	o.run("ip", "link", "add", host, "type", "veth", "peer", "name", peer, "netns", o.ns)
	inEnds := func(args ...string) string { return o.run(args...) }
	if ends != "" {
		o.run("ip", "netns", "add", ends)
		o.run("ip", "link", "set", host, "netns", ends)
		inEnds = func(args ...string) string { return o.run(append([]string{"ip", "netns", "exec", ends}, args...)...) }
		inEnds("sysctl", "-qw", "net.ipv4.ip_forward=0", "net.ipv6.conf.all.forwarding=0")
	}
	o.inNS("sysctl", "-qw", "net.ipv6.conf."+peer+".accept_dad=0")
	o.inNS("ip", "addr", "add", V6.String()+"/64", "dev", peer, "nodad")
	o.inNS("ip", "addr", "add", V4.String()+"/24", "dev", peer)
	o.inNS("ip", "link", "set", peer, "up")
	inEnds("ip", "link", "set", host, "up")
	mac, err := net.ParseMAC(strings.TrimSpace(o.inNS("cat", "/sys/class/net/"+peer+"/address")))
	if err != nil {
		t.Fatal(err)
	}
	hostMAC, err := net.ParseMAC(strings.TrimSpace(inEnds("cat", "/sys/class/net/"+host+"/address")))
	if err != nil {
		t.Fatal(err)
	}
	policy := "drop"
	if forward {
		policy = "accept"
		o.inNS("sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1",
			"net.ipv4.conf.all.send_redirects=0", "net.ipv4.conf."+peer+".send_redirects=0")
		for _, a := range []net.IP{V4Peer, V4Server, V6Peer, V6Server} {
			o.inNS("ip", "neigh", "replace", a.String(), "lladdr", hostMAC.String(), "dev", peer, "nud", "permanent")
		}
	}
	cmd := exec.Command("ip", "netns", "exec", o.ns, "nft", "-f", "-")
	var rules strings.Builder
	for _, m := range []string{"ip id " + strconv.Itoa(Mark4), "ip6 flowlabel " + strconv.Itoa(Mark6)} {
		fmt.Fprintf(&rules, "\t\t%s counter name \"seen\"\n", m)
		for _, st := range states {
			fmt.Fprintf(&rules, "\t\t%s ct state %s counter name \"%s\"\n", m, st, st)
		}
	}
	var counters strings.Builder
	for _, st := range states {
		fmt.Fprintf(&counters, "\tcounter %s {}\n", st)
	}
	cmd.Stdin = strings.NewReader("table inet sworacle {\n\tcounter seen {}\n" + counters.String() +
		"\tchain pre {\n\t\ttype filter hook prerouting priority -150; policy " + policy + ";\n" + rules.String() + "\t}\n}\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft: %v\n%s", err, out)
	}
	o.Src, o.Dst = hostMAC, mac
	ifindex := 0
	err = inNetns(ends, func() error {
		ifi, err := net.InterfaceByName(host)
		if err != nil {
			return err
		}
		ifindex = ifi.Index
		o.fd, err = syscall.Socket(syscall.AF_PACKET, syscall.SOCK_RAW, 0)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(o.fd) })
	o.to = &syscall.SockaddrLinklayer{Ifindex: ifindex, Halen: 6}
	copy(o.to.Addr[:], mac)
	return o
}

// inNetns runs fn on a thread in the named network namespace ("": this
// one); a socket fn opens stays in it.
func inNetns(name string, fn func() error) error {
	if name == "" {
		return fn()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	self, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		return err
	}
	defer self.Close()
	target, err := os.Open("/var/run/netns/" + name)
	if err != nil {
		return err
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("setns %s: %w", name, err)
	}
	ferr := fn()
	if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
		// The thread cannot go back: keep it locked, so that it dies
		// with this goroutine instead of running others in the wrong
		// namespace.
		runtime.LockOSThread()
		return fmt.Errorf("setns back: %w", err)
	}
	return ferr
}

func (o *Oracle) run(args ...string) string {
	o.t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		o.t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (o *Oracle) inNS(args ...string) string {
	return o.run(append([]string{"ip", "netns", "exec", o.ns}, args...)...)
}

// counts reads every counter of the oracle's table in one listing.
func (o *Oracle) counts() map[string]int {
	c := map[string]int{}
	for _, m := range o.counter.FindAllStringSubmatch(o.inNS("nft", "list", "counters", "table", "inet", "sworacle"), -1) {
		c[m[1]], _ = strconv.Atoi(m[2])
	}
	if len(c) != 1+len(states) {
		o.t.Fatalf("oracle counters unreadable: %v", c)
	}
	return c
}

// states are the ct states the oracle tells apart (nft's names).
var states = []string{"new", "established", "related", "invalid", "untracked"}

// State sends frame (Ethernet, to Dst) and returns what Linux made of
// it: NONE (it never reached PRE_ROUTING), or its ct state there, in
// capitals (NEW, ESTABLISHED, RELATED, INVALID, UNTRACKED).
func (o *Oracle) State(frame []byte) string {
	o.inNS("nft", "reset", "counters", "table", "inet", "sworacle")
	if err := syscall.Sendto(o.fd, frame, 0, o.to); err != nil {
		o.t.Fatal(err)
	}
	// The veth delivers in the sender's context: the counters are final
	// when Sendto returns.
	c := o.counts()
	if c["seen"] == 0 {
		return "NONE"
	}
	for _, st := range states {
		if c[st] == 1 {
			return strings.ToUpper(st)
		}
	}
	return "no ct state"
}

// Frame is the Ethernet frame (to Dst) of an IPv4 or IPv6 packet, as src
// and dst are, marked for the oracle, carrying l4 as protocol proto with
// its checksum, at offset sumOff in l4, filled in (over the pseudo-header
// too, except for ICMP over IPv4).
func (o *Oracle) Frame(src, dst net.IP, proto uint8, l4 []byte, sumOff int) []byte {
	f := append(append([]byte{}, o.Dst...), o.Src...)
	var ip []byte
	if s4, d4 := src.To4(), dst.To4(); s4 != nil && d4 != nil {
		ip = []byte{0x45, 0, 0, 0, Mark4 >> 8, Mark4 & 0xff, 0x40, 0, 64, proto, 0, 0}
		binary.BigEndian.PutUint16(ip[2:], uint16(20+len(l4)))
		ip = append(append(ip, s4...), d4...)
		binary.BigEndian.PutUint16(ip[10:], ^sum(ip, 0))
		f = append(f, 0x08, 0x00)
	} else {
		ip = make([]byte, 40)
		binary.BigEndian.PutUint32(ip, 6<<28|Mark6)
		binary.BigEndian.PutUint16(ip[4:], uint16(len(l4)))
		ip[6], ip[7] = proto, 64
		copy(ip[8:], src.To16())
		copy(ip[24:], dst.To16())
		f = append(f, 0x86, 0xdd)
	}
	l4 = append([]byte{}, l4...)
	l4[sumOff], l4[sumOff+1] = 0, 0
	var pseudo uint32
	if proto != 1 || len(ip) == 40 { // ICMP over IPv4 has no pseudo-header
		addrs := ip[12:20] // IPv4 source and destination
		if len(ip) == 40 {
			addrs = ip[8:40]
		}
		pseudo = uint32(sum(addrs, 0)) + uint32(proto) + uint32(len(l4))
	}
	binary.BigEndian.PutUint16(l4[sumOff:], ^sum(l4, pseudo))
	return append(append(f, ip...), l4...)
}

// sum is the folded ones'-complement sum of b, added to initial (what
// packet.Checksum computes; package packet's own tests import this one,
// so it cannot import packet).
func sum(b []byte, initial uint32) uint16 {
	s := uint64(initial)
	for ; len(b) >= 2; b = b[2:] {
		s += uint64(b[0])<<8 | uint64(b[1])
	}
	if len(b) == 1 {
		s += uint64(b[0]) << 8
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return uint16(s)
}

// FromPeer is Frame from the peer to the oracle, over IPv6 (v6) or IPv4.
func (o *Oracle) FromPeer(v6 bool, proto uint8, l4 []byte, sumOff int) []byte {
	if v6 {
		return o.Frame(V6Peer, V6, proto, l4, sumOff)
	}
	return o.Frame(V4Peer, V4, proto, l4, sumOff)
}
