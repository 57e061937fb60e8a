// Command gen writes a pcap of many established TCP flows for the I/O
// benchmarks (perf/scripts/bench-io.sh): every flow's three-way handshake,
// then rounds of data segments in both directions. Packets are interleaved
// across flows phase by phase (all SYNs, all SYN-ACKs, all ACKs, then each
// data round over all flows), so that consecutive packets belong to
// different flows, as on a busy link, and a flow table sees its whole
// working set on every pass. With -proto udp the flows are UDP: rounds of
// a datagram from the client and one from the server (pktgen's default
// traffic is UDP), and no handshake. With -ipv6 the same flows run over
// IPv6.
//
// -close ends every TCP flow after its data: the client's FIN, the
// server's FIN, the last ACK. Replayed in a loop, such a capture is a
// connection-rate benchmark: each pass's SYN finds its flow in TIME_WAIT
// and opens a new connection (as Linux does, RFC 1122's reopen), so every
// pass sets up and tears down every flow again.
//
// -side client or -side server writes one direction only: the captures a
// two-port tester replays, one per port (perf/pktgen), in the same flow
// order. -handshake=false leaves out TCP's handshake, so that a firewall
// picks the connections up mid-stream, as it must when the two
// directions start at different times.
//
//	go run ./perf/gen -flows 10000 -rounds 20 -o /tmp/flows-10k.pcap
//	go run ./perf/gen -proto udp -flows 10000 -rounds 8 -o /tmp/udp-10k.pcap
//	go run ./perf/gen -proto udp -flows 1000000 -side client -o clients.pcap
//
// Flow i runs from 198.18.0.0+(i mod 65536), port 1024+i/65536, to
// 198.19.0.(1+i mod 254) port 80 (TCP) or 5678 (UDP, as pktgen), benchmark addresses
// (RFC 2544); with -ipv6 between the same addresses under fd00::/96.
// Frames are 60 bytes (80 over IPv6) unless -payload says otherwise.
package main

import (
	"bufio"
	"encoding/binary"
	"flag"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// Frame addressing of the two sides.
var (
	clientMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x01}
	serverMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x02}
)

// The destination port of every flow.
const (
	serverPort    = 80
	serverPortUDP = 5678 // pktgen's default destination port
)

// Payloads that make 60-byte frames (the Ethernet minimum without FCS).
const (
	payloadTCP = 60 - 14 - 20 - 20
	payloadUDP = 60 - 14 - 20 - 8
)

// maxFlows keeps client ports below 65536 (1024 + flows/65536).
const maxFlows = 64000 * 65536

// flow is one connection's addresses and initial sequence numbers.
type flow struct {
	client, server       net.IP
	cport                uint16
	clientISN, serverISN uint32
}

// flowAt is flow i, over IPv6 with v6.
func flowAt(i int, v6 bool) flow {
	c := make(net.IP, 4)
	binary.BigEndian.PutUint32(c, 198<<24|18<<16|uint32(i%65536))
	s := net.IPv4(198, 19, 0, byte(1+i%254)).To4()
	if v6 {
		c, s = under6(c), under6(s)
	}
	h := uint32(i)*2654435761 + 12345
	return flow{client: c, server: s, cport: uint16(1024 + i/65536), clientISN: h, serverISN: h ^ 0x5bd1e995}
}

// under6 is IPv4 address a under fd00::/96.
func under6(a net.IP) net.IP {
	b := make(net.IP, 16)
	b[0] = 0xfd
	copy(b[12:], a)
	return b
}

// writer serializes segments into the capture with increasing timestamps.
type writer struct {
	w       *pcapgo.Writer
	buf     gopacket.SerializeBuffer
	ts      time.Time
	payload []byte
	packets int
	v6      bool
	// client and server say which directions are written.
	client, server bool
}

// ipLayer is an IPv4 or IPv6 header.
type ipLayer interface {
	gopacket.SerializableLayer
	gopacket.NetworkLayer
}

// headers are the Ethernet and IP headers of a packet of f carrying
// proto; fromClient says its direction.
func headers(f flow, fromClient bool, proto layers.IPProtocol) (*layers.Ethernet, ipLayer) {
	eth := &layers.Ethernet{SrcMAC: clientMAC, DstMAC: serverMAC, EthernetType: layers.EthernetTypeIPv4}
	src, dst := f.client, f.server
	if !fromClient {
		eth.SrcMAC, eth.DstMAC = serverMAC, clientMAC
		src, dst = dst, src
	}
	if len(src) == net.IPv6len {
		eth.EthernetType = layers.EthernetTypeIPv6
		return eth, &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: proto, SrcIP: src, DstIP: dst}
	}
	return eth, &layers.IPv4{Version: 4, TTL: 64, Protocol: proto, SrcIP: src, DstIP: dst, Flags: layers.IPv4DontFragment}
}

// segment writes one TCP segment of f; fromClient says its direction.
func (w *writer) segment(f flow, fromClient bool, seq, ack uint32, syn, ackFlag, fin bool, data []byte) error {
	if !w.writes(fromClient) {
		return nil
	}
	eth, ip := headers(f, fromClient, layers.IPProtocolTCP)
	tcp := layers.TCP{SrcPort: layers.TCPPort(f.cport), DstPort: serverPort, Seq: seq, Ack: ack, SYN: syn, ACK: ackFlag, FIN: fin, Window: 65535, PSH: len(data) > 0}
	if !fromClient {
		tcp.SrcPort, tcp.DstPort = serverPort, layers.TCPPort(f.cport)
	}
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		return err
	}
	return w.write(eth, ip, &tcp, gopacket.Payload(data))
}

// writes says whether packets of this direction go into the capture.
func (w *writer) writes(fromClient bool) bool {
	if fromClient {
		return w.client
	}
	return w.server
}

// datagram writes one UDP datagram of f; fromClient says its direction.
func (w *writer) datagram(f flow, fromClient bool, data []byte) error {
	if !w.writes(fromClient) {
		return nil
	}
	eth, ip := headers(f, fromClient, layers.IPProtocolUDP)
	udp := layers.UDP{SrcPort: layers.UDPPort(f.cport), DstPort: serverPortUDP}
	if !fromClient {
		udp.SrcPort, udp.DstPort = serverPortUDP, layers.UDPPort(f.cport)
	}
	if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
		return err
	}
	return w.write(eth, ip, &udp, gopacket.Payload(data))
}

// write serializes one packet's layers into the capture.
func (w *writer) write(l ...gopacket.SerializableLayer) error {
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(w.buf, opts, l...); err != nil {
		return err
	}
	b := w.buf.Bytes()
	w.ts = w.ts.Add(time.Microsecond)
	w.packets++
	return w.w.WritePacket(gopacket.CaptureInfo{Timestamp: w.ts, CaptureLength: len(b), Length: len(b)}, b)
}

func run() error {
	proto := flag.String("proto", "tcp", "tcp or udp")
	flows := flag.Int("flows", 10000, "number of flows")
	rounds := flag.Int("rounds", 1, "data rounds per flow, after the handshake for TCP (one packet each way per round)")
	payload := flag.Int("payload", -1, "payload bytes per data packet (default: 60-byte frames)")
	out := flag.String("o", "", "output pcap file (required)")
	v6 := flag.Bool("ipv6", false, "flows over IPv6 (fd00::/96) instead of IPv4")
	side := flag.String("side", "both", "both, client (client to server only) or server (server to client only)")
	handshake := flag.Bool("handshake", true, "TCP: write each flow's three-way handshake before its data")
	closeFlows := flag.Bool("close", false, "TCP: close each flow after its data (FIN each way, last ACK)")
	flag.Parse()
	if *payload < 0 {
		*payload = map[string]int{"tcp": payloadTCP, "udp": payloadUDP}[*proto]
	}
	if *out == "" || (*proto != "tcp" && *proto != "udp") || *flows <= 0 || *flows > maxFlows ||
		*rounds < 0 || *payload < 0 || *payload > 1400 || (*side != "both" && *side != "client" && *side != "server") {
		flag.Usage()
		return fmt.Errorf("bad arguments")
	}
	file, err := os.Create(*out)
	if err != nil {
		return err
	}
	defer file.Close()
	bw := bufio.NewWriterSize(file, 1<<20)
	pw := pcapgo.NewWriter(bw)
	if err := pw.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		return err
	}
	w := &writer{w: pw, buf: gopacket.NewSerializeBuffer(), ts: time.Unix(1700000000, 0), payload: make([]byte, *payload), v6: *v6,
		client: *side != "server", server: *side != "client"}
	for i := range w.payload {
		w.payload[i] = 'a' + byte(i%26)
	}
	n, p := *flows, uint32(*payload)
	var phases []func(f flow) error
	if *proto == "udp" {
		for range *rounds {
			phases = append(phases,
				func(f flow) error { return w.datagram(f, true, w.payload) },
				func(f flow) error { return w.datagram(f, false, w.payload) })
		}
		return w.writeAll(phases, n, bw, file, *out)
	}
	if *handshake {
		phases = []func(f flow) error{
			func(f flow) error { return w.segment(f, true, f.clientISN, 0, true, false, false, nil) },
			func(f flow) error { return w.segment(f, false, f.serverISN, f.clientISN+1, true, true, false, nil) },
			func(f flow) error { return w.segment(f, true, f.clientISN+1, f.serverISN+1, false, true, false, nil) },
		}
	}
	for r := range *rounds {
		r := uint32(r)
		phases = append(phases,
			func(f flow) error {
				return w.segment(f, true, f.clientISN+1+r*p, f.serverISN+1+r*p, false, true, false, w.payload)
			},
			func(f flow) error {
				return w.segment(f, false, f.serverISN+1+r*p, f.clientISN+1+(r+1)*p, false, true, false, w.payload)
			})
	}
	if *closeFlows {
		// The client closes first; the server's FIN acknowledges it; the
		// client's last ACK leaves the connection in TIME_WAIT.
		end := uint32(*rounds) * p
		phases = append(phases,
			func(f flow) error {
				return w.segment(f, true, f.clientISN+1+end, f.serverISN+1+end, false, true, true, nil)
			},
			func(f flow) error {
				return w.segment(f, false, f.serverISN+1+end, f.clientISN+2+end, false, true, true, nil)
			},
			func(f flow) error {
				return w.segment(f, true, f.clientISN+2+end, f.serverISN+2+end, false, true, false, nil)
			})
	}
	return w.writeAll(phases, n, bw, file, *out)
}

// writeAll writes every phase for each of n flows in turn, then flushes
// and closes the capture.
func (w *writer) writeAll(phases []func(f flow) error, n int, bw *bufio.Writer, file *os.File, name string) error {
	for _, phase := range phases {
		for i := range n {
			if err := phase(flowAt(i, w.v6)); err != nil {
				return err
			}
		}
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "gen: %d flows, %d packets -> %s\n", n, w.packets, name)
	return file.Close()
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}
