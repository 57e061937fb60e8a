package defrag

import (
	"bytes"
	"encoding/binary"
	"net"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/dataplane/packet/packettest"
)

var (
	v4A = net.IP{198, 18, 0, 1}
	v4B = net.IP{198, 18, 0, 2}
	v6A = net.ParseIP("fd00::1")
	v6B = net.ParseIP("fd00::2")
)

// udp4 returns an IPv4 UDP datagram with n payload bytes.
func udp4(t testing.TB, n int, id uint16) []byte {
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: v4A, DstIP: v4B, Id: id}
	udp := &layers.UDP{SrcPort: 5000, DstPort: 53}
	_ = udp.SetNetworkLayerForChecksum(ip)
	pl := make([]byte, n)
	for i := range pl {
		pl[i] = byte(i * 7)
	}
	return packettest.Serialize(t, ip, udp, gopacket.Payload(pl))
}

// udp6 returns an IPv6 UDP datagram with n payload bytes behind a
// destination options header.
func udp6(t testing.TB, n int) []byte {
	ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolIPv6Destination, SrcIP: v6A, DstIP: v6B}
	dst := &layers.IPv6Destination{}
	dst.NextHeader = layers.IPProtocolUDP
	dst.Options = []*layers.IPv6DestinationOption{{OptionType: 1, OptionLength: 4, OptionData: []byte{0, 0, 0, 0}}}
	udp := &layers.UDP{SrcPort: 5000, DstPort: 53}
	_ = udp.SetNetworkLayerForChecksum(ip)
	pl := make([]byte, n)
	for i := range pl {
		pl[i] = byte(i * 3)
	}
	return packettest.Serialize(t, ip, dst, udp, gopacket.Payload(pl))
}

// span is a fragment: data bytes [off, end) of the datagram's payload;
// more sets MF (by default MF is set unless end is the payload's end).
type span struct {
	off, end int
	more     *bool
}

func yes() *bool { b := true; return &b }
func no() *bool  { b := false; return &b }

// frag4 cuts an IPv4 datagram into Ethernet frames.
func frag4(d []byte, spans ...span) [][]byte {
	hl := int(d[0]&0xf) * 4
	pl := d[hl:]
	var out [][]byte
	for _, s := range spans {
		f := make([]byte, 14, 14+hl+s.end-s.off)
		binary.BigEndian.PutUint16(f[12:], packet.EtherTypeIPv4)
		f = append(f, d[:hl]...)
		f = append(f, pl[s.off:s.end]...)
		ip := packet.IPv4(f[14:])
		binary.BigEndian.PutUint16(f[14+2:], uint16(hl+s.end-s.off))
		more := s.end < len(pl)
		if s.more != nil {
			more = *s.more
		}
		ff := uint16(s.off / 8)
		if more {
			ff |= packet.IPv4FlagMF
		}
		binary.BigEndian.PutUint16(f[14+6:], ff)
		ip.SetChecksum()
		out = append(out, f)
	}
	return out
}

// frag6 cuts an IPv6 datagram into Ethernet frames after its first
// extension header (8 bytes: the destination options).
func frag6(d []byte, id uint32, spans ...span) [][]byte {
	unfrag := 48
	pl := d[unfrag:]
	var out [][]byte
	for _, s := range spans {
		f := make([]byte, 14, 14+unfrag+8+s.end-s.off)
		binary.BigEndian.PutUint16(f[12:], packet.EtherTypeIPv6)
		f = append(f, d[:unfrag]...)
		more := s.end < len(pl)
		if s.more != nil {
			more = *s.more
		}
		fo := uint16(s.off)
		if more {
			fo |= 1
		}
		fh := []byte{d[40], 0, 0, 0, 0, 0, 0, 0}
		binary.BigEndian.PutUint16(fh[2:], fo)
		binary.BigEndian.PutUint32(fh[4:], id)
		f[14+40] = packet.IPv6Fragment // destination options now name the fragment header
		f = append(f, fh...)
		f = append(f, pl[s.off:s.end]...)
		binary.BigEndian.PutUint16(f[14+4:], uint16(unfrag-40+8+s.end-s.off))
		out = append(out, f)
	}
	return out
}

// feed parses and adds frames in order, returning the results.
func feed(t *testing.T, r *Reassembler, now uint32, frames [][]byte) []Result {
	t.Helper()
	var out []Result
	for i, f := range frames {
		var p packet.Parsed
		if rs := packet.Parse(f, packet.LinkEthernet, &p); rs != packet.ReasonNone {
			t.Fatalf("frame %d: Parse: %q", i, rs)
		}
		if !p.Fragment.Is {
			t.Fatalf("frame %d: not a fragment", i)
		}
		res := r.Add(now, &p)
		if res.Status == StatusComplete {
			res.Frame = append([]byte(nil), res.Frame...)
		}
		out = append(out, res)
	}
	return out
}

func statuses(rs []Result) []Status {
	var s []Status
	for _, r := range rs {
		s = append(s, r.Status)
	}
	return s
}

func TestReassembleIPv4(t *testing.T) {
	d := udp4(t, 100, 42) // 8 + 100 = 108 payload bytes
	for _, tc := range []struct {
		name  string
		spans []span
	}{
		{"in order", []span{{0, 48, nil}, {48, 96, nil}, {96, 108, nil}}},
		{"reverse", []span{{96, 108, nil}, {48, 96, nil}, {0, 48, nil}}},
		{"first last", []span{{0, 8, nil}, {96, 108, nil}, {8, 96, nil}}},
		{"tiny first fragment", []span{{0, 8, nil}, {8, 108, nil}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := New(Config{})
			res := feed(t, r, 1, frag4(d, tc.spans...))
			for i, x := range res[:len(res)-1] {
				if x.Status != StatusHeld || x.Datagram == 0 || x.Reason != packet.ReasonFragHeld {
					t.Fatalf("fragment %d: %+v", i, x)
				}
			}
			last := res[len(res)-1]
			if last.Status != StatusComplete || last.Datagram != res[0].Datagram {
				t.Fatalf("last: %v", statuses(res))
			}
			if !bytes.Equal(last.Frame, d) {
				t.Errorf("reassembled\n% x\nwant\n% x", last.Frame, d)
			}
			var q packet.Parsed
			if rs := packet.ParseWith(last.Frame, packet.LinkRawIP, packet.Options{IPv4Checksum: packet.ChecksumVerify}, &q); rs != packet.ReasonNone ||
				q.Fragment.Is || q.Tuple.DstPort != 53 || q.PayloadLen != 100 {
				t.Errorf("reparse: %q %+v", rs, q.Tuple)
			}
			if r.InProgress() != 0 {
				t.Errorf("%d in progress", r.InProgress())
			}
		})
	}
}

func TestReassembleIPv6(t *testing.T) {
	d := udp6(t, 100) // fragmentable part: 8 + 100 = 108 bytes
	r := New(Config{})
	res := feed(t, r, 1, frag6(d, 7, span{48, 108, nil}, span{0, 48, nil}))
	if res[0].Status != StatusHeld || res[1].Status != StatusComplete {
		t.Fatalf("%v", statuses(res))
	}
	if !bytes.Equal(res[1].Frame, d) {
		t.Errorf("reassembled\n% x\nwant\n% x", res[1].Frame, d)
	}
	// An atomic fragment completes at once.
	res = feed(t, r, 2, frag6(d, 8, span{0, 108, nil}))
	if res[0].Status != StatusComplete || !bytes.Equal(res[0].Frame, d) {
		t.Fatalf("atomic: %v", statuses(res))
	}
}

func TestOverlapAndDuplicates(t *testing.T) {
	d4 := udp4(t, 100, 1)
	d6 := udp6(t, 100)
	for _, tc := range []struct {
		name   string
		frames [][]byte
		want   []Status
		reason packet.DropReason // of the last result
		killed bool              // the last result discards the datagram
	}{
		{"v4 duplicate kept", frag4(d4, span{0, 48, nil}, span{0, 48, nil}, span{48, 108, nil}),
			[]Status{StatusHeld, StatusDropped, StatusComplete}, packet.ReasonNone, false},
		{"v4 partial overlap", frag4(d4, span{0, 48, nil}, span{40, 108, nil}),
			[]Status{StatusHeld, StatusDropped}, packet.ReasonFragOverlap, true},
		{"v4 overlap inside gap", frag4(d4, span{0, 16, nil}, span{64, 108, nil}, span{8, 32, nil}),
			[]Status{StatusHeld, StatusHeld, StatusDropped}, packet.ReasonFragOverlap, true},
		{"v4 second last fragment disagrees", frag4(d4, span{0, 48, nil}, span{48, 108, nil}, span{48, 100, no()}),
			[]Status{StatusHeld, StatusComplete, StatusHeld}, packet.ReasonFragHeld, false},
		{"v4 data beyond last", frag4(d4, span{48, 96, no()}, span{96, 104, yes()}),
			[]Status{StatusHeld, StatusDropped}, packet.ReasonFragOverlap, true},
		{"v4 last shorter than seen", frag4(d4, span{48, 96, nil}, span{8, 40, no()}),
			[]Status{StatusHeld, StatusDropped}, packet.ReasonFragOverlap, true},
		{"v4 odd length with MF is cut to 8", frag4(d4, span{0, 52, nil}, span{48, 108, nil}),
			[]Status{StatusHeld, StatusComplete}, packet.ReasonNone, false},
		{"v6 duplicate kept", frag6(d6, 1, span{0, 48, nil}, span{0, 48, nil}, span{48, 108, nil}),
			[]Status{StatusHeld, StatusDropped, StatusComplete}, packet.ReasonNone, false},
		{"v6 overlap", frag6(d6, 1, span{0, 48, nil}, span{40, 108, nil}),
			[]Status{StatusHeld, StatusDropped}, packet.ReasonFragOverlap, true},
		{"v6 data beyond last drops the fragment only", frag6(d6, 1, span{48, 96, no()}, span{96, 104, yes()}, span{0, 48, nil}),
			[]Status{StatusHeld, StatusDropped, StatusComplete}, packet.ReasonNone, false},
		{"v6 odd length with MF passes and discards", frag6(d6, 1, span{48, 108, nil}, span{0, 44, nil}),
			[]Status{StatusHeld, StatusPass}, packet.ReasonNone, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := New(Config{})
			res := feed(t, r, 1, tc.frames)
			got := statuses(res)
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			}
			last := res[len(res)-1]
			if last.Status == StatusDropped && last.Reason != tc.reason {
				t.Errorf("reason %q, want %q", last.Reason, tc.reason)
			}
			if killed := (last.Status == StatusDropped || last.Status == StatusPass) && last.Datagram != 0; killed != tc.killed {
				t.Errorf("datagram discarded %v, want %v (%+v)", killed, tc.killed, last)
			}
			if killed := last.Datagram != 0 && last.Status != StatusHeld && last.Status != StatusComplete; killed && last.Datagram != res[0].Datagram {
				t.Errorf("discarded %v, held under %v", last.Datagram, res[0].Datagram)
			}
			if tc.killed && r.InProgress() != 0 {
				t.Errorf("%d in progress after discard", r.InProgress())
			}
		})
	}
}

func TestTimeoutAndTableFull(t *testing.T) {
	r := New(Config{MaxDatagrams: 2, IPv4TimeoutMs: 1000, IPv6TimeoutMs: 5000})
	a := frag4(udp4(t, 100, 1), span{0, 48, nil}, span{48, 108, nil})
	b := frag4(udp4(t, 100, 2), span{0, 48, nil}, span{48, 108, nil})
	c := frag4(udp4(t, 100, 3), span{0, 48, nil}, span{48, 108, nil})
	six := frag6(udp6(t, 100), 9, span{0, 48, nil}, span{48, 108, nil})
	ra := feed(t, r, 100, a[:1])
	rb := feed(t, r, 200, six[:1])
	if rc := feed(t, r, 300, c[:1]); rc[0].Status != StatusDropped || rc[0].Reason != packet.ReasonFragTableFull || rc[0].Datagram != 0 {
		t.Fatalf("table full: %+v", rc[0])
	}
	exp := make([]Handle, 4)
	if n := r.Expire(1099, exp); n != 0 {
		t.Fatalf("expired early: %v", exp[:n])
	}
	if n := r.Expire(1100, exp); n != 1 || exp[0] != ra[0].Datagram {
		t.Fatalf("expire at 1100: %v, want %v", exp[:n], ra[0].Datagram)
	}
	// The late second half of a starts a new datagram; b fits now.
	if res := feed(t, r, 1200, a[1:]); res[0].Status != StatusHeld || res[0].Datagram == ra[0].Datagram {
		t.Fatalf("late fragment: %+v", res[0])
	}
	if n := r.Expire(5199, exp); n != 1 {
		t.Fatalf("at 5199: %d expired", n)
	}
	if n := r.Expire(5200, exp); n != 1 || exp[0] != rb[0].Datagram {
		t.Fatalf("IPv6 expiry: %v", exp[:n])
	}
	if res := feed(t, r, 5300, b); res[1].Status != StatusComplete {
		t.Fatalf("b: %v", statuses(res))
	}
	// Clock wrap.
	r = New(Config{IPv4TimeoutMs: 1000})
	feed(t, r, 0xffffff00, a[:1])
	if n := r.Expire(0x10, exp); n != 0 {
		t.Fatal("expired across the wrap too early")
	}
	if n := r.Expire(0x300, exp); n != 1 {
		t.Fatal("not expired after the wrap")
	}
}

func TestNotFragmentPasses(t *testing.T) {
	r := New(Config{})
	var p packet.Parsed
	packet.Parse(udp4(t, 10, 1), packet.LinkRawIP, &p)
	if res := r.Add(0, &p); res.Status != StatusPass || res.Datagram != 0 {
		t.Fatalf("%+v", res)
	}
}

func TestAddAllocs(t *testing.T) {
	r := New(Config{})
	fr := frag4(udp4(t, 100, 1), span{0, 48, nil}, span{48, 108, nil})
	var p, q packet.Parsed
	packet.Parse(fr[0], packet.LinkEthernet, &p)
	packet.Parse(fr[1], packet.LinkEthernet, &q)
	exp := make([]Handle, 8)
	if n := testing.AllocsPerRun(1000, func() {
		r.Add(1, &p)
		r.Add(1, &q)
		r.Expire(1, exp)
	}); n != 0 {
		t.Errorf("%v allocations per datagram", n)
	}
}

func BenchmarkReassembleIPv4(b *testing.B) {
	r := New(Config{})
	fr := frag4(udp4(b, 1400, 1), span{0, 720, nil}, span{720, 1408, nil})
	var p, q packet.Parsed
	packet.Parse(fr[0], packet.LinkEthernet, &p)
	packet.Parse(fr[1], packet.LinkEthernet, &q)
	b.ReportAllocs()
	for b.Loop() {
		r.Add(1, &p)
		if r.Add(1, &q).Status != StatusComplete {
			b.Fatal("not complete")
		}
	}
}
