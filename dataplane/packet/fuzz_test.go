package packet

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"testing"

	"github.com/google/gopacket/layers"
)

// checkParsed asserts the invariants of a parse that returned r.
func checkParsed(t *testing.T, frame []byte, p *Parsed, r DropReason) {
	t.Helper()
	if !bytes.Equal(p.Frame, frame) {
		t.Fatal("Frame not kept")
	}
	if r == ReasonNotIP && p.Family() != FamilyNone {
		t.Fatalf("not IP with family %d", p.Family())
	}
	if r != ReasonNone {
		if !r.IsParseFailure() {
			t.Fatalf("Parse returned non-parse reason %q", r)
		}
		return
	}
	if p.Family() != FamilyIPv4 && p.Family() != FamilyIPv6 {
		t.Fatalf("accepted with family %d", p.Family())
	}
	end := int(p.L3Off) + int(p.IPLen)
	if end > len(frame) {
		t.Fatalf("IP end %d beyond frame %d", end, len(frame))
	}
	if p.L4Off != 0 && (p.L4Off < p.L3Off || int(p.L4Off) > end) {
		t.Fatalf("L4Off %d outside [%d,%d]", p.L4Off, p.L3Off, end)
	}
	if p.PayloadOff != 0 && int(p.PayloadOff)+int(p.PayloadLen) > end {
		t.Fatalf("payload %d+%d beyond IP end %d", p.PayloadOff, p.PayloadLen, end)
	}
	if p.Fragment.Is && p.Fragment.Offset != 0 && p.L4Off != 0 {
		t.Fatal("non-first fragment with a transport header")
	}
	if p.Fragment.Is && (p.FragDataOff == 0 || int(p.FragDataOff) > end) {
		t.Fatalf("fragment data offset %d", p.FragDataOff)
	}
	_ = p.Payload()
}

// FuzzParse parses arbitrary frames with every link type and option set.
func FuzzParse(f *testing.F) {
	f.Add([]byte{}, byte(LinkEthernet))
	// Frames of the IPv6 fast path's shape (checkFast6).
	tcp := make([]byte, 24)
	tcp[tcpDataOff] = 6 << 4
	f.Add(frameIPv6(f, layers.IPProtocolTCP, tcp, nil), byte(LinkEthernet))
	f.Add(frameIPv6(f, layers.IPProtocolUDP, []byte{0, 1, 0, 2, 0, 8, 0, 0}, nil), byte(LinkEthernet))
	f.Fuzz(func(t *testing.T, frame []byte, link byte) {
		var p Parsed
		lt := LinkType(link % 8)
		r := Parse(frame, lt, &p)
		checkParsed(t, frame, &p, r)
		opt := Options{IPv4Checksum: ChecksumPolicy(link>>3) % 3, IPv4Options: link&0x80 != 0}
		r2 := ParseWith(frame, lt, opt, &p)
		checkParsed(t, frame, &p, r2)
		checkFast4(t, frame, opt)
		checkFast6(t, frame, opt)
		if r == ReasonNone && r2 == ReasonNone {
			var q Parsed
			Parse(frame, lt, &q)
			if q.Tuple != p.Tuple || q.TCP != p.TCP || q.ICMP != p.ICMP {
				t.Fatal("options changed the parse of an accepted frame")
			}
		}
	})
}

// checkFast4 asserts that the fast path's parsers (ParseTCP4, ParseUDP4)
// accept only frames ParseWith accepts as Ethernet, and read the same
// fields from them.
func checkFast4(t *testing.T, frame []byte, opt Options) {
	t.Helper()
	var (
		s TCP4
		u UDP4
	)
	tcp, udp := ParseTCP4(frame, opt, &s), ParseUDP4(frame, opt, &u)
	if !tcp && !udp {
		return
	}
	var p Parsed
	if r := ParseWith(frame, LinkEthernet, opt, &p); r != ReasonNone || tcp && udp {
		t.Fatalf("fast parsers (TCP %v, UDP %v) accepted a frame ParseWith refuses: %v", tcp, udp, r)
	}
	proto, src4, dst4, sport, dport := ProtoTCP, s.Src, s.Dst, s.SrcPort, s.DstPort
	if udp {
		proto, src4, dst4, sport, dport = ProtoUDP, u.Src, u.Dst, u.SrcPort, u.DstPort
	}
	var src, dst [16]byte
	binary.BigEndian.PutUint32(src[:], src4)
	binary.BigEndian.PutUint32(dst[:], dst4)
	tu := &p.Tuple
	if tu.Family != FamilyIPv4 || tu.Proto != proto || p.VLANs != 0 || p.Fragment.Is ||
		tu.Src != src || tu.Dst != dst || tu.SrcPort != sport || tu.DstPort != dport || p.L4Off != TCP4Off ||
		tcp && (p.TCP.Seq != s.Seq || p.TCP.Ack != s.Ack || p.TCP.Window != s.Window || p.TCP.Flags != s.Flags ||
			p.TCP.HeaderLen != s.HeaderLen || p.PayloadLen != s.PayloadLen) {
		t.Fatalf("fast parser (TCP %+v, UDP %+v) disagrees with ParseWith %+v", s, u, p)
	}
	if ok := L4ChecksumOK4(frame); ok != TransportChecksumOK(&p) {
		t.Fatalf("L4ChecksumOK4 %v, TransportChecksumOK %v", ok, !ok)
	}
}

// checkFast6 is checkFast4 for ParseTCP6 and ParseUDP6.
func checkFast6(t *testing.T, frame []byte, opt Options) {
	t.Helper()
	var (
		s TCP6
		u UDP6
	)
	tcp, udp := ParseTCP6(frame, &s), ParseUDP6(frame, &u)
	if !tcp && !udp {
		return
	}
	var p Parsed
	if r := ParseWith(frame, LinkEthernet, opt, &p); r != ReasonNone || tcp && udp {
		t.Fatalf("fast parsers (TCP %v, UDP %v) accepted a frame ParseWith refuses: %v", tcp, udp, r)
	}
	proto, src, dst, sport, dport := ProtoTCP, s.Src, s.Dst, s.SrcPort, s.DstPort
	if udp {
		proto, src, dst, sport, dport = ProtoUDP, u.Src, u.Dst, u.SrcPort, u.DstPort
	}
	tu := &p.Tuple
	if tu.Family != FamilyIPv6 || tu.Proto != proto || p.VLANs != 0 || p.Fragment.Is ||
		tu.Src != src || tu.Dst != dst || tu.SrcPort != sport || tu.DstPort != dport || p.L4Off != L4Off6 ||
		tcp && (p.TCP.Seq != s.Seq || p.TCP.Ack != s.Ack || p.TCP.Window != s.Window || p.TCP.Flags != s.Flags ||
			p.TCP.HeaderLen != s.HeaderLen || p.PayloadLen != s.PayloadLen) {
		t.Fatalf("fast parser (TCP %+v, UDP %+v) disagrees with ParseWith %+v", s, u, p)
	}
	if ok := L4ChecksumOK6(frame); ok != TransportChecksumOK(&p) {
		t.Fatalf("L4ChecksumOK6 %v, TransportChecksumOK %v", ok, !ok)
	}
}

// FuzzIPv4 checks the IPv4 view, its options walk and checksum.
func FuzzIPv4(f *testing.F) {
	f.Add([]byte{0x45, 0, 0, 20, 0, 0, 0, 0, 64, 6, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, pol := range []ChecksumPolicy{ChecksumIgnore, ChecksumVerify, ChecksumVerifyNonZero} {
			ip, r := newIPv4(b, pol)
			if r != ReasonNone {
				if ip != nil {
					t.Fatal("view returned with a failure")
				}
				continue
			}
			if len(ip) != int(ip.TotalLength()) || ip.HeaderLen() < IPv4MinSize || ip.HeaderLen() > len(ip) {
				t.Fatalf("view of %d bytes, total %d, header %d", len(ip), ip.TotalLength(), ip.HeaderLen())
			}
			_ = ip.OptionsValid()
			if ip.HeaderLen() == IPv4MinSize && headerSum20(ip) != Checksum(ip[:IPv4MinSize], 0) {
				t.Fatalf("headerSum20 %#x, Checksum %#x", headerSum20(ip), Checksum(ip[:IPv4MinSize], 0))
			}
			_, _, _, _ = ip.Source(), ip.Destination(), ip.Payload(), ip.FragmentOffset()
			if pol == ChecksumVerify {
				c := append(IPv4(nil), ip...)
				c.SetChecksum()
				if !c.ChecksumValid() {
					t.Fatal("SetChecksum does not verify")
				}
			}
		}
	})
}

// FuzzIPv6 checks the IPv6 view and the extension-header walk.
func FuzzIPv6(f *testing.F) {
	f.Add(append([]byte{0x60, 0, 0, 0, 0, 8, 44, 64}, make([]byte, 40)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		ip, r := NewIPv6(b)
		if r != ReasonNone {
			return
		}
		if len(ip) != IPv6Size+int(ip.PayloadLength()) {
			t.Fatal("view length")
		}
		c, r := ip.WalkExt()
		if r != ReasonNone {
			return
		}
		if c.Off < IPv6Size || c.Off > len(ip) {
			t.Fatalf("upper layer at %d of %d", c.Off, len(ip))
		}
		if c.FragOff != 0 {
			if c.FragOff+IPv6FragmentSize > len(ip) || c.PrevOff >= c.FragOff || ip[c.PrevOff] != IPv6Fragment {
				t.Fatalf("fragment header at %d, named at %d", c.FragOff, c.PrevOff)
			}
			fh, r := NewIPv6Frag(ip[c.FragOff:])
			if r != ReasonNone {
				t.Fatal(r)
			}
			_, _, _ = fh.Offset(), fh.More(), fh.ID()
		}
	})
}

// FuzzTCPOptions checks the lenient TCP option reader and the TCP view.
func FuzzTCPOptions(f *testing.F) {
	f.Add([]byte{2, 4, 5, 180, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7})
	f.Fuzz(func(t *testing.T, opts []byte) {
		var info TCPInfo
		ParseTCPOptions(opts, &info)
		if !info.HasWScale && info.WScale != 0 {
			t.Fatal("window scale without the flag")
		}
		if !info.HasTS && (info.TSVal != 0 || info.TSEcr != 0) {
			t.Fatal("timestamps without the flag")
		}
		hdr := make([]byte, TCPMinSize, TCPMinSize+len(opts))
		hdr = append(hdr, opts...)
		hdr[tcpDataOff] = byte(min(len(hdr)/4, 15)) << 4
		if tcp, r := NewTCP(hdr); r == ReasonNone {
			var info2 TCPInfo
			readTCP(tcp, tcp.HeaderLen(), &info2)
			_ = tcp.Payload()
		}
	})
}

// FuzzICMPInner checks the reader of the packet quoted by an ICMP or
// ICMPv6 error.
func FuzzICMPInner(f *testing.F) {
	f.Add([]byte{0x45, 0, 0, 28, 0, 0, 0, 0, 1, 17, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 53, 0, 53, 0, 8, 0, 0}, false)
	f.Fuzz(func(t *testing.T, quote []byte, v6 bool) {
		fam := FamilyIPv4
		if v6 {
			fam = FamilyIPv6
		}
		var info ICMPInfo
		parseICMPInner(quote, fam, &info)
		if info.InnerOK != (info.InnerReason == ReasonNone) {
			t.Fatalf("InnerOK %v with reason %q", info.InnerOK, info.InnerReason)
		}
		if info.InnerOK && info.Inner.Family != fam {
			t.Fatal("inner family")
		}
	})
}

// FuzzUDP checks the UDP view.
func FuzzUDP(f *testing.F) {
	f.Add([]byte{0, 53, 0, 53, 0, 9, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		u, r := NewUDP(b)
		if r == ReasonNone && (len(u) != int(u.Length()) || len(u.Payload()) != len(u)-UDPSize) {
			t.Fatal("UDP view length")
		}
	})
}

// FuzzICMP checks the ICMP view.
func FuzzICMP(f *testing.F) {
	f.Add([]byte{8, 0, 0, 0, 0, 1, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		ic, r := NewICMP(b)
		if r == ReasonNone {
			_, _, _, _, _ = ic.Type(), ic.Code(), ic.ID(), ic.Seq(), ic.Body()
		}
	})
}

// FuzzEthernet checks the Ethernet and VLAN views.
func FuzzEthernet(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x81, 0, 0, 5, 8, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, r := NewEthernet(b)
		if r != ReasonNone {
			return
		}
		_, _ = e.Source(), e.Destination()
		if IsVLANTPID(e.Type()) {
			if v, r := NewVLAN(b[EthernetSize:]); r == ReasonNone && v.ID() > 0xfff {
				t.Fatal("VLAN id beyond 12 bits")
			}
		}
	})
}

// FuzzSumLE checks the fast path's little-endian ones'-complement sum
// against Checksum: the same 16-bit sum, byte-swapped.
func FuzzSumLE(f *testing.F) {
	f.Add([]byte{}, uint32(0))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1}, uint32(0xffffffff))
	f.Fuzz(func(t *testing.T, b []byte, x uint32) {
		pseudo := make([]byte, 4)
		binary.BigEndian.PutUint32(pseudo, x)
		want := Checksum(append(pseudo, b...), 0)
		// x as the pseudo-header's 32 bits: little-endian, as the fast path adds them.
		got := bits.ReverseBytes16(foldLE(sumLE(b, 0), uint64(bits.ReverseBytes32(x))))
		if got != want {
			t.Fatalf("sumLE %#04x, Checksum %#04x", got, want)
		}
	})
}
