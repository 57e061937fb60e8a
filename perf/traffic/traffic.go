// Package traffic generates benchmark traffic in memory: the frames of
// many established TCP flows (handshake, then rounds of data and ACKs in
// both directions), interleaved across flows so that consecutive frames
// belong to different connections, as on a busy link. Frames are built
// from templates and patched in place, so a million flows take about a
// second to make. Addresses come from the benchmarking range 198.18.0.0/15.
package traffic

import (
	"encoding/binary"
	"net"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/statewall/statewall/dataplane/packet"
)

// Frame offsets in the IPv4/TCP templates (Ethernet, IPv4 without options).
const (
	offIPSum   = 14 + 10
	offIPSrc   = 14 + 12
	offIPDst   = 14 + 16
	offTCP     = 14 + 20
	offTCPSeq  = offTCP + 4
	offTCPAck  = offTCP + 8
	offTCPSum  = offTCP + 16
	serverPort = 80
	dataLen    = 6 // 60-byte data frames: the minimum Ethernet frame
)

// Kind is one template segment of a flow.
type Kind int

// The segments of a flow, in the order a connection sends them.
const (
	SYN Kind = iota
	SYNACK
	ACK
	Data      // client to server, dataLen bytes
	DataAck   // server to client, acknowledging Data
	FinClient // client's FIN|ACK after one data round
	FinServer // server's FIN|ACK, acknowledging the client's FIN
	LastAck   // client's ACK of the server's FIN: the connection is closed
	numKinds  //
)

// Flows returns the frames of n TCP flows: every flow's SYN, then every
// SYN|ACK, every ACK, then rounds rounds of (data, ack) over all flows.
// Flow i runs from 198.18.x.y (i mod 65536) port 1024+i/65536 to
// 198.19.0.(1+i mod 254) port 80.
func Flows(n, rounds int) [][]byte {
	tpl := templates()
	out := make([][]byte, 0, n*(3+2*rounds))
	for _, k := range []Kind{SYN, SYNACK, ACK} {
		for i := 0; i < n; i++ {
			out = append(out, Segment(tpl, i, k, 0))
		}
	}
	for r := 0; r < rounds; r++ {
		for _, k := range []Kind{Data, DataAck} {
			for i := 0; i < n; i++ {
				out = append(out, Segment(tpl, i, k, r))
			}
		}
	}
	return out
}

// Handshakes returns only the setup frames of n flows (SYN, SYN|ACK, ACK
// for each), and Established the data frames of round r: together they
// let a benchmark set up a table once and then loop over steady traffic.
func Handshakes(n int) [][]byte {
	tpl := templates()
	out := make([][]byte, 0, 3*n)
	for i := 0; i < n; i++ {
		out = append(out, Segment(tpl, i, SYN, 0), Segment(tpl, i, SYNACK, 0), Segment(tpl, i, ACK, 0))
	}
	return out
}

// Established returns one round of data and ACK frames of n set-up flows,
// flow by flow in a scrambled order.
func Established(n int) [][]byte {
	tpl := templates()
	out := make([][]byte, 0, 2*n)
	for j := 0; j < n; j++ {
		i := scramble(j, n)
		out = append(out, Segment(tpl, i, Data, 0), Segment(tpl, i, DataAck, 0))
	}
	return out
}

// Connections returns n whole TCP connections: handshake, one data
// segment each way, FIN from the client, FIN from the server, the last
// ACK. Connections run in groups of 32 that overlap, segment kind by
// segment kind (32 SYNs, then their 32 SYN|ACKs, ...), so that a burst
// carries one segment of each of 32 connections, as on a busy link.
// Connection i uses flow i's addresses and ports (see Flows).
func Connections(n int) [][]byte {
	const group = 32
	tpl := templates()
	out := make([][]byte, 0, 8*n)
	for g := 0; g < n; g += group {
		for _, k := range []Kind{SYN, SYNACK, ACK, Data, DataAck, FinClient, FinServer, LastAck} {
			for i := g; i < min(g+group, n); i++ {
				out = append(out, Segment(tpl, i, k, 0))
			}
		}
	}
	return out
}

// scramble visits 0..n-1 in a fixed pseudo-random order (a multiplicative
// permutation), so that consecutive frames hit unrelated table slots.
func scramble(j, n int) int {
	const prime = 2654435761
	if n <= 1 {
		return 0
	}
	g := prime % n
	for gcd(g, n) != 1 {
		g++
	}
	return int(uint64(j) * uint64(g) % uint64(n))
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// Templates are the five segment kinds of flow 0, serialized once.
type Templates [numKinds][]byte

func templates() *Templates {
	var t Templates
	c, s := net.IPv4(198, 18, 0, 0).To4(), net.IPv4(198, 19, 0, 1).To4()
	mk := func(fromClient bool, flags string, payload int) []byte {
		src, dst := c, s
		sp, dp := layers.TCPPort(1024), layers.TCPPort(serverPort)
		if !fromClient {
			src, dst, sp, dp = s, c, dp, sp
		}
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: src, DstIP: dst}
		return build(ip, &layers.TCP{SrcPort: sp, DstPort: dp, Window: 65535, SYN: flags == "S" || flags == "SA",
			FIN: flags == "FA", ACK: flags != "S"}, payload)
	}
	t[SYN] = mk(true, "S", 0)
	t[SYNACK] = mk(false, "SA", 0)
	t[ACK] = mk(true, "A", 0)
	t[Data] = mk(true, "A", dataLen)
	t[DataAck] = mk(false, "A", 0)
	t[FinClient] = mk(true, "FA", 0)
	t[FinServer] = mk(false, "FA", 0)
	t[LastAck] = mk(true, "A", 0)
	return &t
}

// Segment returns segment k of flow i in data round r.
func Segment(t *Templates, i int, k Kind, r int) []byte {
	f := append([]byte(nil), t[k]...)
	client := [4]byte{198, 18, byte(i >> 8), byte(i)}
	server := [4]byte{198, 19, 0, byte(1 + i%254)}
	cport := uint16(1024 + i/65536)
	isnC := uint32(i)*2654435761 + 12345
	isnS := isnC ^ 0x5bd1e995
	fromClient := k == SYN || k == ACK || k == Data || k == FinClient || k == LastAck
	finC := isnC + 1 + uint32((r+1)*dataLen) // the client's FIN, after data round r
	var seq, ack uint32
	switch k {
	case SYN:
		seq = isnC
	case SYNACK:
		seq, ack = isnS, isnC+1
	case ACK:
		seq, ack = isnC+1, isnS+1
	case Data:
		seq, ack = isnC+1+uint32(r*dataLen), isnS+1
	case DataAck:
		seq, ack = isnS+1, isnC+1+uint32((r+1)*dataLen)
	case FinClient:
		seq, ack = finC, isnS+1
	case FinServer:
		seq, ack = isnS+1, finC+1
	case LastAck:
		seq, ack = finC+1, isnS+2
	}
	if fromClient {
		copy(f[offIPSrc:], client[:])
		copy(f[offIPDst:], server[:])
		binary.BigEndian.PutUint16(f[offTCP:], cport)
	} else {
		copy(f[offIPSrc:], server[:])
		copy(f[offIPDst:], client[:])
		binary.BigEndian.PutUint16(f[offTCP+2:], cport)
	}
	binary.BigEndian.PutUint32(f[offTCPSeq:], seq)
	binary.BigEndian.PutUint32(f[offTCPAck:], ack)
	fixChecksums(f, packet.ProtoTCP, offTCPSum)
	return f
}

// fixChecksums recomputes the IPv4 header checksum of frame f and its
// transport checksum, of protocol proto, at offset sum.
func fixChecksums(f []byte, proto uint8, sum int) {
	binary.BigEndian.PutUint16(f[offIPSum:], 0)
	binary.BigEndian.PutUint16(f[offIPSum:], ^packet.Checksum(f[14:34], 0))
	ipLen := int(binary.BigEndian.Uint16(f[16:]))
	seg := f[14+20 : 14+ipLen] // after an IPv4 header without options
	binary.BigEndian.PutUint16(f[sum:], 0)
	pseudo := uint32(packet.Checksum(f[offIPSrc:offIPSrc+8], 0)) + uint32(proto) + uint32(len(seg))
	binary.BigEndian.PutUint16(f[sum:], ^packet.Checksum(seg, pseudo))
}

// UDP exchange layout (Ethernet, IPv4 without options, UDP).
const (
	offUDP     = 14 + 20
	offUDPSum  = offUDP + 6
	dnsPort    = 53
	udpDataLen = 18 // 60-byte frames, as the TCP data frames
)

// Exchanges returns one round of n UDP flows' datagrams, a query and its
// reply each, flow by flow in a scrambled order: the first round creates
// and replies every flow, the next ones are its steady traffic. Flow i
// runs from 198.18.x.y (i mod 65536) port 1024+i/65536 to 198.19.0.(1+i
// mod 254) port 53.
func Exchanges(n int) [][]byte {
	tpl := udpTemplate()
	out := make([][]byte, 0, 2*n)
	for j := 0; j < n; j++ {
		i := scramble(j, n)
		out = append(out, Datagram(tpl, i, true), Datagram(tpl, i, false))
	}
	return out
}

func udpTemplate() []byte {
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IPv4(198, 18, 0, 0).To4(), DstIP: net.IPv4(198, 19, 0, 1).To4()}
	return build(ip, &layers.UDP{SrcPort: 1024, DstPort: dnsPort}, udpDataLen)
}

// transport is a TCP or UDP layer: its checksum covers the IP pseudo-header.
type transport interface {
	gopacket.SerializableLayer
	SetNetworkLayerForChecksum(gopacket.NetworkLayer) error
}

// build serializes an Ethernet frame of ip, l4 and payload zero bytes,
// lengths and checksums computed.
func build(ip *layers.IPv4, l4 transport, payload int) []byte {
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	_ = l4.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	_ = gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		eth, ip, l4, gopacket.Payload(make([]byte, payload)))
	return append([]byte(nil), buf.Bytes()...)
}

// Datagram returns flow i's query (fromClient) or reply, built from the
// template udpTemplate returns.
func Datagram(tpl []byte, i int, fromClient bool) []byte {
	f := append([]byte(nil), tpl...)
	client := [4]byte{198, 18, byte(i >> 8), byte(i)}
	server := [4]byte{198, 19, 0, byte(1 + i%254)}
	cport := uint16(1024 + i/65536)
	src, dst, sport, dport := client, server, cport, uint16(dnsPort)
	if !fromClient {
		src, dst, sport, dport = server, client, dnsPort, cport
	}
	copy(f[offIPSrc:], src[:])
	copy(f[offIPDst:], dst[:])
	binary.BigEndian.PutUint16(f[offUDP:], sport)
	binary.BigEndian.PutUint16(f[offUDP+2:], dport)
	fixChecksums(f, packet.ProtoUDP, offUDPSum)
	return f
}

// IPv6 returns frames, IPv4 frames of Flows, Handshakes, Established or
// Exchanges, carried over IPv6 instead: the same transport segment
// between fd00::198.18.x.y and fd00::198.19.0.z (the IPv4 addresses
// under fd00::/96), its checksum recomputed. The frames grow by the 20
// bytes the larger header takes.
func IPv6(frames [][]byte) [][]byte {
	out := make([][]byte, len(frames))
	for i, f := range frames {
		ipLen := int(binary.BigEndian.Uint16(f[16:]))
		seg := f[14+20 : 14+ipLen]
		proto := f[14+9]
		g := make([]byte, 14+packet.IPv6Size+len(seg))
		copy(g, f[:12])
		binary.BigEndian.PutUint16(g[12:], packet.EtherTypeIPv6)
		ip := g[14:]
		ip[0] = 0x60
		binary.BigEndian.PutUint16(ip[4:], uint16(len(seg)))
		ip[6], ip[7] = proto, 64
		for j, a := range [][]byte{f[offIPSrc : offIPSrc+4], f[offIPDst : offIPDst+4]} {
			addr := ip[8+16*j : 24+16*j]
			addr[0] = 0xfd
			copy(addr[12:], a)
		}
		l4 := ip[packet.IPv6Size:]
		copy(l4, seg)
		sum := 16 // TCP
		if proto == packet.ProtoUDP {
			sum = 6
		}
		binary.BigEndian.PutUint16(l4[sum:], 0)
		pseudo := uint32(packet.Checksum(ip[8:40], 0)) + uint32(proto) + uint32(len(l4))
		binary.BigEndian.PutUint16(l4[sum:], ^packet.Checksum(l4, pseudo))
		out[i] = g
	}
	return out
}
