package defrag

import (
	"encoding/binary"
	"testing"

	"github.com/statewall/statewall/dataplane/packet"
)

// pattern is the byte at offset i of every fuzzed datagram's payload, so
// that any reassembly can be checked byte for byte.
func pattern(i int) byte { return byte(i*7 + i>>8 + 1) }

// fuzzFragment builds a raw-IP fragment from a 5-byte record:
// b0 bit 0 IPv6, bit 1 MF, bits 2-3 id; b1-b2 offset in 8-byte units
// (mod 1024); b3 data length; b4 clock advance in seconds.
func fuzzFragment(buf []byte, rec []byte) (frame []byte, advance uint32) {
	v6, more, id := rec[0]&1 != 0, rec[0]&2 != 0, uint32(rec[0]>>2&3)
	off := int(binary.BigEndian.Uint16(rec[1:])%1024) * 8
	n := int(rec[3])
	var hl int
	if v6 {
		hl = 48
		buf = buf[:hl+n]
		clear(buf[:hl])
		buf[0] = 0x60
		binary.BigEndian.PutUint16(buf[4:], uint16(8+n))
		buf[6], buf[7] = packet.IPv6Fragment, 64
		buf[8], buf[24] = 0xfd, 0xfd
		buf[40] = packet.ProtoUDP
		fo := uint16(off)
		if more {
			fo |= 1
		}
		binary.BigEndian.PutUint16(buf[42:], fo)
		binary.BigEndian.PutUint32(buf[44:], id)
	} else {
		hl = 20
		buf = buf[:hl+n]
		clear(buf[:hl])
		buf[0] = 0x45
		binary.BigEndian.PutUint16(buf[2:], uint16(hl+n))
		binary.BigEndian.PutUint16(buf[4:], uint16(id))
		ff := uint16(off / 8)
		if more {
			ff |= packet.IPv4FlagMF
		}
		binary.BigEndian.PutUint16(buf[6:], ff)
		buf[8], buf[9] = 64, packet.ProtoUDP
		buf[12], buf[16] = 198, 198
	}
	for i := range n {
		buf[hl+i] = pattern(off + i)
	}
	return buf, uint32(rec[4]) * 1000
}

// FuzzReassemble feeds sequences of IPv4 and IPv6 fragments of datagrams
// whose payload follows pattern; whatever completes must hold exactly
// pattern bytes, and the table never holds more than its size.
func FuzzReassemble(f *testing.F) {
	f.Add([]byte{2, 0, 0, 48, 0, 0, 0, 6, 60, 0})                  // IPv4: two halves
	f.Add([]byte{3, 0, 0, 48, 0, 3, 0, 3, 48, 0, 1, 0, 6, 8, 0})   // IPv6 with a duplicate
	f.Add([]byte{2, 0, 0, 48, 0, 2, 0, 5, 48, 0, 0, 0, 5, 20, 31}) // overlap, then a late tail
	f.Add([]byte{1, 0, 0, 16, 0})                                  // IPv6 atomic fragment
	f.Fuzz(func(t *testing.T, recs []byte) {
		r := New(Config{MaxDatagrams: 4, MaxRuns: 4})
		buf := make([]byte, 48+255)
		exp := make([]Handle, 2)
		var now uint32
		var p, q packet.Parsed
		for len(recs) >= 5 {
			frame, adv := fuzzFragment(buf, recs[:5])
			recs = recs[5:]
			now += adv
			for r.Expire(now, exp) == len(exp) {
			}
			if packet.Parse(frame, packet.LinkRawIP, &p) != packet.ReasonNone || !p.Fragment.Is {
				continue
			}
			res := r.Add(now, &p)
			if r.InProgress() > 4 {
				t.Fatalf("%d datagrams in a table of 4", r.InProgress())
			}
			switch res.Status {
			case StatusHeld:
				if res.Datagram == 0 || res.Reason != packet.ReasonFragHeld {
					t.Fatalf("held: %+v", res)
				}
			case StatusComplete:
				rs := packet.Parse(res.Frame, packet.LinkRawIP, &q)
				if rs.IPLayerDrop() || q.Fragment.Is {
					t.Fatalf("reassembled datagram: %q, fragment %+v", rs, q.Fragment)
				}
				hl := 20
				if q.Family() == packet.FamilyIPv6 {
					hl = 40
				}
				for i, b := range res.Frame[hl:] {
					if b != pattern(i) {
						t.Fatalf("byte %d of the payload is %#x, want %#x", i, b, pattern(i))
					}
				}
			case StatusDropped:
				if res.Reason == packet.ReasonNone {
					t.Fatal("dropped without a reason")
				}
			}
		}
	})
}
