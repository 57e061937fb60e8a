package conntrack

import (
	"encoding/binary"
	"net"
	"reflect"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/dataplane/packet/packettest"
	"github.com/statewall/statewall/flowtable"
	"github.com/statewall/statewall/flowtable/ctstate"
)

// frameTCP builds an Ethernet/IPv4/TCP frame with gopacket.
func frameTCP(t testing.TB, src, dst string, sp, dp uint16, syn, ack, fin, rst bool, seq, an uint32, payload int) []byte {
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: net.ParseIP(src), DstIP: net.ParseIP(dst)}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(sp), DstPort: layers.TCPPort(dp), SYN: syn, ACK: ack, FIN: fin, RST: rst, Seq: seq, Ack: an, Window: 65535}
	if syn {
		tcp.Options = []layers.TCPOption{
			{OptionType: layers.TCPOptionKindWindowScale, OptionLength: 3, OptionData: []byte{7}},
			{OptionType: layers.TCPOptionKindSACKPermitted, OptionLength: 2},
		}
	}
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	return packettest.Serialize(t, eth, ip, tcp, gopacket.Payload(make([]byte, payload)))
}

// frameUDP builds an Ethernet/IPv4/UDP frame with gopacket.
func frameUDP(t testing.TB, src, dst string, sp, dp uint16, payload int) []byte {
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.ParseIP(src), DstIP: net.ParseIP(dst)}
	udp := &layers.UDP{SrcPort: layers.UDPPort(sp), DstPort: layers.UDPPort(dp)}
	if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	return packettest.Serialize(t, eth, ip, udp, gopacket.Payload(make([]byte, payload)))
}

// frameICMPError builds an ICMP destination-unreachable frame quoting q
// (an IPv4 frame as frameTCP builds it).
func frameICMPError(t testing.TB, src, dst string, q []byte) []byte {
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 3}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: net.ParseIP(src), DstIP: net.ParseIP(dst)}
	ic := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(3, 4)}
	quote := q[14:min(len(q), 14+28)]
	return packettest.Serialize(t, eth, ip, ic, gopacket.Payload(quote))
}

// splitFrames unpacks a fuzz input that joinFrames packed (a short last
// length takes what is left).
func splitFrames(in []byte) [][]byte {
	var out [][]byte
	for len(in) >= 2 {
		n := int(binary.BigEndian.Uint16(in))
		in = in[2:]
		n = min(n, len(in))
		out = append(out, in[:n])
		in = in[n:]
	}
	return out
}

// joinFrames packs frames as the fuzz input: a 2-byte length, then the frame.
func joinFrames(frames ...[]byte) []byte {
	var out []byte
	for _, f := range frames {
		out = binary.BigEndian.AppendUint16(out, uint16(len(f)))
		out = append(out, f...)
	}
	return out
}

func seedConversation(t testing.TB) [][]byte {
	c, s := "198.18.0.1", "198.19.0.1"
	syn := frameTCP(t, c, s, 40000, 80, true, false, false, false, 1000, 0, 0)
	return [][]byte{
		syn,
		frameTCP(t, s, c, 80, 40000, true, true, false, false, 5000, 1001, 0),
		frameTCP(t, c, s, 40000, 80, false, true, false, false, 1001, 5001, 0),
		frameTCP(t, c, s, 40000, 80, false, true, false, false, 1001, 5001, 100),
		frameICMPError(t, "198.18.255.254", c, syn),
		frameTCP(t, s, c, 80, 40000, false, true, true, false, 5001, 1101, 0),
		frameTCP(t, c, s, 40000, 80, false, false, false, true, 1101, 0, 0),
	}
}

// TestCraftedFrames runs gopacket-built frames through packet.Parse and
// the tracker: handshake, data, an ICMP error quoting the SYN, FIN, RST.
func TestCraftedFrames(t *testing.T) {
	tr := newTracker(t, nil)
	want := []struct {
		state ctstate.State
		tcp   TCPState
	}{
		{ctstate.New, TCPSynSent}, {ctstate.Established, TCPSynRecv}, {ctstate.Established, TCPEstablished},
		{ctstate.Established, TCPEstablished}, {ctstate.Related, TCPNone}, {ctstate.Established, TCPFinWait},
		{ctstate.Established, TCPClose},
	}
	var p packet.Parsed
	var r Result
	for i, f := range seedConversation(t) {
		if pr := packet.Parse(f, packet.LinkEthernet, &p); pr != packet.ReasonNone {
			t.Fatalf("frame %d: parse %v", i, pr)
		}
		tr.Track(uint32(1000+i), &p, tr.Hash(&p), &r)
		if r.State != want[i].state || r.TCPState != want[i].tcp {
			t.Errorf("frame %d: %+v, want %v %v", i, r, want[i].state, want[i].tcp)
		}
	}
	if s := tr.t4.tb.Entry(1).Value.tdScale(0); s != 7 {
		t.Errorf("window scale %d, want 7 (both SYNs carried it)", s)
	}
}

// FuzzTrack feeds sequences of frames through Parse and Track (with
// Confirm, Discard and Expire in between) and checks that nothing panics
// and the tracker's invariants hold.
func FuzzTrack(f *testing.F) {
	f.Add(joinFrames(seedConversation(f)...))
	f.Add(joinFrames(seedConversation(f)[4]))
	f.Fuzz(func(t *testing.T, in []byte) {
		o := DefaultOptions()
		o.Capacity4, o.Capacity6 = 8, 8
		tr, err := New(o, nil, []HelperBinding{{Proto: packet.ProtoTCP, Port: 80, Helper: &recHelper{}}})
		if err != nil {
			t.Fatal(err)
		}
		var p packet.Parsed
		var r Result
		now := uint32(0xfffff000) // wraps during the run
		for _, frame := range splitFrames(in) {
			n := len(frame)
			now += uint32(n) * 97
			if packet.Parse(frame, packet.LinkEthernet, &p) != packet.ReasonNone {
				continue
			}
			tr.Track(now, &p, tr.Hash(&p), &r)
			if int(r.State) >= ctstate.NumStates {
				t.Fatalf("state %d", r.State)
			}
			if (r.State == ctstate.Invalid) != (r.Reason != packet.ReasonNone) && r.State != ctstate.Untracked {
				t.Fatalf("state %v with reason %q", r.State, r.Reason)
			}
			if n%3 == 0 {
				tr.Discard(&r)
			} else {
				tr.Confirm(now, &p, &r)
				if vc := tr.VerdictCache(&r); vc != nil {
					*vc = uint32(n)
				}
			}
			tr.Expire(now, 4)
		}
		v4, v6 := tr.Len()
		if v4 > 8 || v6 > 8 {
			t.Fatalf("len %d %d", v4, v6)
		}
		tr.Range(func(e EntryInfo) bool { _ = e.String(); return true })
		tr.Flush(nil)
		if tr.hp.n != 0 {
			t.Fatalf("%d helper slots leaked", tr.hp.n)
		}
	})
}

// FuzzFastTrack feeds the same frames to two trackers: one takes every
// segment packet.ParseTCP4 reads through BeginTCP4 and TrackEstablished4
// (and every datagram packet.ParseUDP4 reads through the UDP functions),
// and whatever those decline through Track, the other tracks everything
// with Track. Every packet must get the same result (the fast path's
// Result for what it finds ESTABLISHED), and the tables must end up the
// same, entry by entry.
func FuzzFastTrack(f *testing.F) {
	conv := seedConversation(f)
	f.Add(joinFrames(conv...))
	// Established segments again, some out of order and repeated.
	f.Add(joinFrames(conv[0], conv[1], conv[2], conv[3], conv[3], conv[2], conv[5], conv[3], conv[0], conv[6], conv[5]))
	// A UDP exchange: query, reply, more both ways (the fast path's once
	// replied), mixed with TCP.
	q, a := frameUDP(f, "198.18.0.1", "198.19.0.53", 40000, 53, 30), frameUDP(f, "198.19.0.53", "198.18.0.1", 53, 40000, 90)
	f.Add(joinFrames(q, a, q, conv[0], a, conv[1], q, conv[2], a, q))
	f.Fuzz(func(t *testing.T, in []byte) {
		newTracker := func() *Tracker {
			o := DefaultOptions()
			o.Capacity4, o.Capacity6 = 1<<12, 1<<10 // no evictions: those depend on the tables' random seeds
			tr, err := New(o, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			return tr
		}
		general, fast := newTracker(), newTracker()
		var (
			p      packet.Parsed
			s      packet.TCP4
			u      packet.UDP4
			x      Established4
			rg, rf Result
		)
		now := uint32(0xfffff000) // wraps during the run
		for i, frame := range splitFrames(in) {
			now += uint32(len(frame)) * 97
			if packet.Parse(frame, packet.LinkEthernet, &p) != packet.ReasonNone {
				continue
			}
			general.Track(now, &p, general.Hash(&p), &rg)
			out := FastDeclined
			switch {
			case packet.ParseTCP4(frame, packet.Options{}, &s):
				fast.BeginTCP4(&s, &x)
				fast.Candidate4(&x)
				// Every other segment goes straight to the Call form, and
				// so does every segment the call-free form leaves to it
				// or declines (the Call form declines it too, or must
				// track it as Track does).
				if i%2 == 0 {
					out = fast.TrackEstablished4(now, &s, frame, &x)
				}
				if out == FastDeclined || out >= FastCall {
					out = fast.TrackEstablishedCall4(now, &s, frame, &x, &rf, max(out, FastCall))
				}
			case packet.ParseUDP4(frame, packet.Options{}, &u):
				fast.BeginUDP4(&u, &x)
				fast.Candidate4(&x)
				out = fast.TrackEstablishedUDP4(now, &x)
			}
			switch out {
			case FastDeclined:
				fast.Track(now, &p, fast.Hash(&p), &rf)
			case FastEstablished:
				x.Result(&rf) // what the pipeline writes when the general path is to decide
			}
			if rg != rf {
				t.Fatalf("frame %d (fast path %v): Track %+v, fast %+v", i, out, rg, rf)
			}
			general.Expire(now, 4)
			fast.Expire(now, 4)
		}
		type entry struct {
			ref flowtable.Ref
			e   Entry4
		}
		entries := func(tr *Tracker) (out []entry) {
			tr.t4.tb.Range(func(r flowtable.Ref, e *Entry4) bool {
				out = append(out, entry{r, *e})
				return true
			})
			return out
		}
		if g, f := entries(general), entries(fast); !reflect.DeepEqual(g, f) {
			t.Fatalf("tables differ:\nTrack %+v\nfast  %+v", g, f)
		}
	})
}
