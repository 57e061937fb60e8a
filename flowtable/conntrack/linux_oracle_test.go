package conntrack

import (
	"encoding/binary"
	"testing"

	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/dataplane/packet/linuxoracle"
)

// icmpFrame is the Ethernet frame of an ICMP (IPv4) or ICMPv6 message of
// type typ with identifier id from the oracle's peer to the oracle, with
// 8 bytes of body after the identifier and sequence.
func icmpFrame(o *linuxoracle.Oracle, v6 bool, typ uint8, id uint16) []byte {
	msg := []byte{typ, 0, 0, 0, byte(id >> 8), byte(id), 0, 1, 'o', 'r', 'a', 'c', 'l', 'e', '!', '!'}
	proto := packet.ProtoICMP
	if v6 {
		proto = packet.ProtoICMPv6
	}
	return o.FromPeer(v6, proto, msg, 2)
}

// TestICMPAsLinux sends ICMP and ICMPv6 messages of every kind the
// tracker tells apart (queries that may start a connection, replies
// without a query, errors quoting no connection, messages Linux leaves
// untracked, unknown types) to Linux and to the tracker, one each with
// its own identifier, and compares the states.
func TestICMPAsLinux(t *testing.T) {
	o := linuxoracle.New(t)
	tr := newTracker(t, nil)
	cases := []struct {
		name string
		v6   bool
		typ  uint8
	}{
		{"echo request", false, 8},
		{"echo reply without request", false, 0},
		{"timestamp request", false, 13},
		{"information request", false, 15},
		{"address mask request", false, 17},
		{"router solicitation", false, 10},
		{"unknown type 200", false, 200},
		{"unreachable quoting nothing known", false, 3},
		{"icmpv6 echo request", true, 128},
		{"icmpv6 echo reply without request", true, 129},
		{"icmpv6 node information query", true, 139},
		{"icmpv6 router solicitation", true, 133},
		{"icmpv6 neighbour solicitation", true, 135},
		{"icmpv6 mld query", true, 130},
		{"icmpv6 unknown informational 200", true, 200},
		{"icmpv6 unreachable quoting nothing known", true, 1},
	}
	for i, c := range cases {
		compareWithLinux(t, o, tr, c.name, icmpFrame(o, c.v6, c.typ, uint16(0x4000+i)))
	}
}

// compareWithLinux sends frame to the oracle and through the parser (with
// statewalld's checks) and tr, and fails the test when their states
// differ.
func compareWithLinux(t *testing.T, o *linuxoracle.Oracle, tr *Tracker, name string, frame []byte) {
	t.Helper()
	linux := o.State(frame)
	var p packet.Parsed
	ours := "INVALID" // a transport header conntrack cannot read
	if r := packet.ParseWith(frame, packet.LinkEthernet, packet.Options{IPv4Checksum: packet.ChecksumVerify}, &p); r.IPLayerDrop() {
		ours = "NONE"
	} else if r == packet.ReasonNone {
		ours = track(tr, 1000, &p).State.String()
	}
	if ours != linux {
		t.Errorf("%s: Linux %s, tracker %s", name, linux, ours)
	} else {
		t.Logf("%s: %s", name, linux)
	}
}

// tcpFrame is the Ethernet frame of a TCP segment with flags from the
// oracle's peer (port sport) to the oracle (port 5678) carrying payload,
// over IPv4 or IPv6.
func tcpFrame(o *linuxoracle.Oracle, v6 bool, sport uint16, flags uint8, payload []byte) []byte {
	seg := make([]byte, 20, 20+len(payload))
	binary.BigEndian.PutUint16(seg, sport)
	binary.BigEndian.PutUint16(seg[2:], 5678)
	binary.BigEndian.PutUint32(seg[4:], 0x1000_0000+uint32(sport))
	if flags&packet.TCPAck != 0 {
		binary.BigEndian.PutUint32(seg[8:], 0x2000_0000)
	}
	seg[12], seg[13] = 5<<4, flags
	binary.BigEndian.PutUint16(seg[14:], 65535)
	return o.FromPeer(v6, packet.ProtoTCP, append(seg, payload...), 16)
}

// TestTCPFirstSegmentAsLinux sends the first segment of a connection,
// with every flag combination the tracker treats apart, to Linux and to
// the tracker (default options: Linux's, tcp_loose on), and compares the
// states.
func TestTCPFirstSegmentAsLinux(t *testing.T) {
	o := linuxoracle.New(t)
	tr := newTracker(t, nil)
	const (
		fin, syn, rst, psh, ack, urg, ece, cwr = packet.TCPFin, packet.TCPSyn, packet.TCPRst, 0x08, packet.TCPAck, 0x20, 0x40, 0x80
	)
	cases := []struct {
		name    string
		flags   uint8
		payload bool
	}{
		{"syn", syn, false},
		{"syn with data", syn, true},
		{"syn ece cwr", syn | ece | cwr, false},
		{"ack", ack, false},
		{"ack with data", ack | psh, true},
		{"syn ack", syn | ack, false},
		{"fin", fin, false},
		{"fin ack", fin | ack, false},
		{"rst", rst, false},
		{"rst ack", rst | ack, false},
		{"syn fin", syn | fin, false},
		{"syn rst", syn | rst, false},
		{"no flags", 0, false},
		{"xmas", fin | psh | urg, false},
		{"all flags", 0xff, false},
		{"urg ack", urg | ack, false},
	}
	for i, c := range cases {
		var data []byte
		if c.payload {
			data = []byte("oracle")
		}
		sport := uint16(40000 + 2*i) // a connection of its own
		compareWithLinux(t, o, tr, c.name, tcpFrame(o, false, sport, c.flags, data))
		compareWithLinux(t, o, tr, c.name+" (ipv6)", tcpFrame(o, true, sport+1, c.flags, data))
	}
}
