package conntrack

import (
	"encoding/binary"
	"fmt"
	"net"
	"testing"

	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/dataplane/packet/linuxoracle"
	"github.com/statewall/statewall/flowtable/ctstate"
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
	compareWithLinuxAt(t, o, tr, 1000, name, frame)
}

// compareWithLinuxAt is compareWithLinux at time now; a packet the
// tracker does not call INVALID is confirmed, as the oracle's forwarding
// confirms it.
func compareWithLinuxAt(t *testing.T, o *linuxoracle.Oracle, tr *Tracker, now uint32, name string, frame []byte) {
	t.Helper()
	linux := o.State(frame)
	var p packet.Parsed
	ours := "INVALID" // a transport header conntrack cannot read
	if r := packet.ParseWith(frame, packet.LinkEthernet, packet.Options{IPv4Checksum: packet.ChecksumVerify}, &p); r.IPLayerDrop() {
		ours = "NONE"
	} else if r == packet.ReasonNone {
		var res Result
		tr.Track(now, &p, tr.Hash(&p), &res)
		if ours = res.State.String(); res.State != ctstate.Invalid {
			_ = tr.Confirm(now, &p, &res)
		}
	}
	if ours != linux {
		t.Errorf("%s: Linux %s, tracker %s", name, linux, ours)
	} else {
		t.Logf("%s: %s", name, linux)
	}
}

// tcpSegment is the Ethernet frame of a TCP segment from src:sport to
// dst:dport with flags, seq and ack, a window of 65535, no options and
// payload bytes of data, marked for the oracle.
func tcpSegment(o *linuxoracle.Oracle, src, dst net.IP, sport, dport uint16, flags uint8, seq, ack uint32, payload int) []byte {
	return tcpSegmentWith(o, src, dst, sport, dport, flags, seq, ack, 65535, nil, payload)
}

// tcpSegmentWith is tcpSegment with the window field win and TCP options
// opts (padded with NOPs to a multiple of 4 bytes).
func tcpSegmentWith(o *linuxoracle.Oracle, src, dst net.IP, sport, dport uint16, flags uint8, seq, ack uint32, win uint16, opts []byte, payload int) []byte {
	for len(opts)%4 != 0 {
		opts = append(opts, 1) // NOP
	}
	seg := make([]byte, 20+len(opts)+payload)
	binary.BigEndian.PutUint16(seg, sport)
	binary.BigEndian.PutUint16(seg[2:], dport)
	binary.BigEndian.PutUint32(seg[4:], seq)
	binary.BigEndian.PutUint32(seg[8:], ack)
	seg[12], seg[13] = uint8(5+len(opts)/4)<<4, flags
	binary.BigEndian.PutUint16(seg[14:], win)
	copy(seg[20:], opts)
	return o.Frame(src, dst, packet.ProtoTCP, seg, 16)
}

// tcpFrame is the first segment of a connection, with flags, from the
// oracle's peer (port sport) to the oracle (port 5678), over IPv4 or IPv6.
func tcpFrame(o *linuxoracle.Oracle, v6 bool, sport uint16, flags uint8, payload int) []byte {
	src, dst := linuxoracle.V4Peer, linuxoracle.V4
	if v6 {
		src, dst = linuxoracle.V6Peer, linuxoracle.V6
	}
	var ack uint32
	if flags&packet.TCPAck != 0 {
		ack = 0x2000_0000
	}
	return tcpSegment(o, src, dst, sport, 5678, flags, 0x1000_0000+uint32(sport), ack, payload)
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
		data := 0
		if c.payload {
			data = 6
		}
		sport := uint16(40000 + 2*i) // a connection of its own
		compareWithLinux(t, o, tr, c.name, tcpFrame(o, false, sport, c.flags, data))
		compareWithLinux(t, o, tr, c.name+" (ipv6)", tcpFrame(o, true, sport+1, c.flags, data))
	}
}

// TestTCPConversationsAsLinux plays TCP conversations through a
// forwarding oracle (client = the peer, server = the oracle's server
// address, both behind it) and through the tracker, packet by packet,
// both ways, and compares the states: handshakes (simultaneous open
// too) and closes, segments out of the window, ACKs of data never sent,
// RSTs in and out of the window and after a close, data after a FIN or
// a RST, SYNs where none belongs and one reopening a closed connection.
func TestTCPConversationsAsLinux(t *testing.T) {
	o := linuxoracle.NewForwarding(t)
	tr := newTracker(t, nil)
	const c, s = 1000, 5000 // the client's and the server's initial sequence numbers
	type step struct {
		client   bool // from the client
		flags    uint8
		seq, ack uint32
		payload  int
	}
	const syn, ack, fin, rst, psh = packet.TCPSyn, packet.TCPAck, packet.TCPFin, packet.TCPRst, 0x08
	handshake := []step{{true, syn, c, 0, 0}, {false, syn | ack, s, c + 1, 0}, {true, ack, c + 1, s + 1, 0}}
	conversations := []struct {
		name  string
		steps []step
	}{
		{"data and close", append(append([]step{}, handshake...),
			step{true, ack | psh, c + 1, s + 1, 100}, step{false, ack, s + 1, c + 101, 0},
			step{false, ack | psh, s + 1, c + 101, 200}, step{true, fin | ack, c + 101, s + 201, 0},
			step{false, fin | ack, s + 201, c + 102, 0}, step{true, ack, c + 102, s + 202, 0})},
		{"data beyond the window", append(append([]step{}, handshake...),
			step{true, ack | psh, c + 1 + 200_000, s + 1, 100}, step{true, ack | psh, c + 1, s + 1, 100})},
		{"ack of data never sent", append(append([]step{}, handshake...),
			step{true, ack, c + 1, s + 1 + 100_000, 0}, step{true, ack, c + 1, s + 1, 0})},
		{"rst out of the window, then in it", append(append([]step{}, handshake...),
			step{false, rst, s + 1 + 1_000_000, 0, 0}, step{false, rst, s + 1, 0, 0})},
		{"syn on an established connection", append(append([]step{}, handshake...),
			step{true, syn, c + 77_777, 0, 0}, step{true, ack, c + 1, s + 1, 0})},
		{"syn retransmitted", []step{{true, syn, c, 0, 0}, {true, syn, c, 0, 0}, {false, syn | ack, s, c + 1, 0}}},
		{"syn/ack acking the wrong number", []step{{true, syn, c, 0, 0}, {false, syn | ack, s, c + 999, 0}, {false, syn | ack, s, c + 1, 0}}},
		{"data after the client's fin", append(append([]step{}, handshake...),
			step{true, fin | ack, c + 1, s + 1, 0}, step{false, ack, s + 1, c + 2, 0},
			step{true, ack | psh, c + 2, s + 1, 10}, step{false, ack | psh, s + 1, c + 2, 10})},
		{"syn reopening a closed connection", append(append([]step{}, handshake...),
			step{true, fin | ack, c + 1, s + 1, 0}, step{false, fin | ack, s + 1, c + 2, 0},
			step{true, ack, c + 2, s + 2, 0}, step{true, syn, c + 100_000, 0, 0},
			step{false, syn | ack, s + 100_000, c + 100_001, 0})},
		{"rst after the close", append(append([]step{}, handshake...),
			step{true, fin | ack, c + 1, s + 1, 0}, step{false, fin | ack, s + 1, c + 2, 0},
			step{true, ack, c + 2, s + 2, 0}, step{false, rst, s + 2, 0, 0}, step{true, ack, c + 2, s + 2, 0})},
		{"rst then data", append(append([]step{}, handshake...),
			step{false, rst | ack, s + 1, c + 1, 0}, step{true, ack | psh, c + 1, s + 1, 10})},
		{"simultaneous open", []step{{true, syn, c, 0, 0}, {false, syn, s, 0, 0}, {true, syn | ack, c, s + 1, 0}, {false, syn | ack, s, c + 1, 0}}},
	}
	now := uint32(1000)
	for i, conv := range conversations {
		for _, v6 := range []bool{false, true} {
			client, server := linuxoracle.V4Peer, linuxoracle.V4Server
			if v6 {
				client, server = linuxoracle.V6Peer, linuxoracle.V6Server
			}
			cport := uint16(41000 + 2*i)
			if v6 {
				cport++
			}
			for j, st := range conv.steps {
				frame := tcpSegment(o, client, server, cport, 80, st.flags, st.seq, st.ack, st.payload)
				if !st.client {
					frame = tcpSegment(o, server, client, 80, cport, st.flags, st.seq, st.ack, st.payload)
				}
				now++
				name := fmt.Sprintf("%s, packet %d", conv.name, j+1)
				if v6 {
					name += " (ipv6)"
				}
				compareWithLinuxAt(t, o, tr, now, name, frame)
			}
		}
	}
}

// TestUDPAndICMPConversationsAsLinux plays UDP and ICMP conversations
// through the forwarding oracle and the tracker, over IPv4 and IPv6: a
// datagram and its replies, an echo and its reply, and ICMP errors that
// quote a live UDP or TCP connection (RELATED) or one never seen.
func TestUDPAndICMPConversationsAsLinux(t *testing.T) {
	o := linuxoracle.NewForwarding(t)
	tr := newTracker(t, nil)
	now := uint32(1000)
	for _, v6 := range []bool{false, true} {
		client, server := linuxoracle.V4Peer, linuxoracle.V4Server
		icmp, echo, echoReply, unreach, unreachCode := packet.ProtoICMP, uint8(8), uint8(0), uint8(3), uint8(3)
		suffix := ""
		if v6 {
			client, server = linuxoracle.V6Peer, linuxoracle.V6Server
			icmp, echo, echoReply, unreach, unreachCode = packet.ProtoICMPv6, 128, 129, 1, 4
			suffix = " (ipv6)"
		}
		udp := func(from, to net.IP, sport, dport uint16) []byte {
			d := []byte{byte(sport >> 8), byte(sport), byte(dport >> 8), byte(dport), 0, 12, 0, 0, 'o', 'r', 'c', 'l'}
			return o.Frame(from, to, packet.ProtoUDP, d, 6)
		}
		syn := tcpSegment(o, client, server, 3002, 80, packet.TCPSyn, 100, 0, 0)
		// An ICMP error from `from` quoting quoted (an Ethernet frame):
		// its IP header and the first 8 bytes of what follows.
		icmpError := func(from, to net.IP, quoted []byte) []byte {
			ip := quoted[14:]
			hl := 20
			if v6 {
				hl = 40
			}
			msg := append([]byte{unreach, unreachCode, 0, 0, 0, 0, 0, 0}, ip[:hl+8]...)
			return o.Frame(from, to, icmp, msg, 2)
		}
		ping := func(from, to net.IP, typ uint8, id uint16) []byte {
			return o.Frame(from, to, icmp, []byte{typ, 0, 0, 0, byte(id >> 8), byte(id), 0, 1, 'p', 'i', 'n', 'g'}, 2)
		}
		steps := []struct {
			name  string
			frame []byte
		}{
			{"udp query", udp(client, server, 3000, 53)},
			{"udp reply", udp(server, client, 53, 3000)},
			{"udp second query", udp(client, server, 3000, 53)},
			{"unreachable quoting the udp query", icmpError(server, client, udp(client, server, 3000, 53))},
			{"unreachable quoting a udp flow never seen", icmpError(server, client, udp(client, server, 3001, 53))},
			{"tcp syn", syn},
			{"unreachable quoting the tcp syn", icmpError(server, client, syn)},
			{"echo request", ping(client, server, echo, 7)},
			{"echo reply", ping(server, client, echoReply, 7)},
			{"echo reply again", ping(server, client, echoReply, 7)},
		}
		for _, st := range steps {
			now++
			compareWithLinuxAt(t, o, tr, now, st.name+suffix, st.frame)
		}
	}
}

// TestTCPWindowScaleAsLinux asks Linux and the tracker about a segment
// that only a scaled window admits: with both sides offering window
// scaling, and with only the client offering it (then neither side
// scales, as RFC 7323 says), over IPv4 and IPv6.
func TestTCPWindowScaleAsLinux(t *testing.T) {
	o := linuxoracle.NewForwarding(t)
	tr := newTracker(t, nil)
	const c, s = 1000, 5000
	wscale7 := []byte{3, 3, 7} // window scale option, shift 7
	now := uint32(1000)
	for i, both := range []bool{true, false, true, false} {
		v6 := i >= 2
		client, server := linuxoracle.V4Peer, linuxoracle.V4Server
		if v6 {
			client, server = linuxoracle.V6Peer, linuxoracle.V6Server
		}
		cport := uint16(43000 + i)
		serverOpts := wscale7
		if !both {
			serverOpts = nil
		}
		name := "both scale"
		if !both {
			name = "only the client offers scaling"
		}
		if v6 {
			name += " (ipv6)"
		}
		steps := [][]byte{
			tcpSegmentWith(o, client, server, cport, 80, packet.TCPSyn, c, 0, 1024, wscale7, 0),
			tcpSegmentWith(o, server, client, 80, cport, packet.TCPSyn|packet.TCPAck, s, c+1, 1024, serverOpts, 0),
			tcpSegmentWith(o, client, server, cport, 80, packet.TCPAck, c+1, s+1, 1024, nil, 0),
			// The server's first window after its SYN/ACK (a SYN's is
			// never scaled): 1024<<7 = 128 KiB when both scale.
			tcpSegmentWith(o, server, client, 80, cport, packet.TCPAck, s+1, c+1, 1024, nil, 0),
			// 100 bytes 100k past the client's first byte: inside 128
			// KiB, beyond an unscaled 1024.
			tcpSegmentWith(o, client, server, cport, 80, packet.TCPAck|0x08, c+1+100_000, s+1, 1024, nil, 100),
		}
		for j, f := range steps {
			now++
			compareWithLinuxAt(t, o, tr, now, fmt.Sprintf("%s, packet %d", name, j+1), f)
		}
	}
}
