package conntrack

import (
	"encoding/binary"
	"testing"

	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/dataplane/packet/linuxoracle"
)

// icmpFrame is the Ethernet frame of an ICMP (IPv4) or ICMPv6 message of
// type typ with identifier id from the oracle's peer to the oracle,
// marked for it, with 8 bytes of body after the identifier and sequence
// (an error quotes them as a header: an IPv4 header it is not).
func icmpFrame(o *linuxoracle.Oracle, v6 bool, typ uint8, id uint16) []byte {
	msg := []byte{typ, 0, 0, 0, byte(id >> 8), byte(id), 0, 1, 'o', 'r', 'a', 'c', 'l', 'e', '!', '!'}
	f := append(append([]byte{}, o.Dst...), o.Src...)
	if !v6 {
		binary.BigEndian.PutUint16(msg[2:], ^packet.Checksum(msg, 0))
		ip := []byte{0x45, 0, 0, byte(20 + len(msg)), linuxoracle.Mark4 >> 8, linuxoracle.Mark4 & 0xff, 0x40, 0, 64, packet.ProtoICMP, 0, 0}
		ip = append(append(ip, linuxoracle.V4Peer...), linuxoracle.V4...)
		binary.BigEndian.PutUint16(ip[10:], ^packet.Checksum(ip, 0))
		return append(append(append(f, 0x08, 0x00), ip...), msg...)
	}
	src, dst := linuxoracle.V6Peer.To16(), linuxoracle.V6.To16()
	initial := uint32(packet.Checksum(src, 0)) + uint32(packet.Checksum(dst, 0)) + uint32(packet.ProtoICMPv6) + uint32(len(msg))
	binary.BigEndian.PutUint16(msg[2:], ^packet.Checksum(msg, initial))
	ip := make([]byte, packet.IPv6Size)
	binary.BigEndian.PutUint32(ip, 6<<28|linuxoracle.Mark6)
	binary.BigEndian.PutUint16(ip[4:], uint16(len(msg)))
	ip[6], ip[7] = packet.ProtoICMPv6, 255
	copy(ip[8:], src)
	copy(ip[24:], dst)
	return append(append(append(f, 0x86, 0xdd), ip...), msg...)
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
	var p packet.Parsed
	for i, c := range cases {
		frame := icmpFrame(o, c.v6, c.typ, uint16(0x4000+i))
		linux := o.State(frame)
		ours := "NONE"
		if r := packet.ParseWith(frame, packet.LinkEthernet, packet.Options{IPv4Checksum: packet.ChecksumVerify}, &p); r.IPLayerDrop() {
			ours = "NONE"
		} else if r != packet.ReasonNone {
			ours = "INVALID"
		} else {
			ours = track(tr, 1000, &p).State.String()
		}
		if ours != linux {
			t.Errorf("%s: Linux %s, tracker %s", c.name, linux, ours)
		} else {
			t.Logf("%s: %s", c.name, linux)
		}
	}
}
