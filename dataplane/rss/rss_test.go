package rss

import (
	"encoding/binary"
	"testing"

	"github.com/statewall/statewall/dataplane/packet"
)

// TestToeplitzKnownAnswer checks the hash against Microsoft's published
// verification suite (IPv4, addresses only) under its sample key.
func TestToeplitzKnownAnswer(t *testing.T) {
	key := []byte{0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
		0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
		0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa}
	for _, tc := range []struct {
		src, dst [4]byte
		want     uint32
	}{
		{[4]byte{66, 9, 149, 187}, [4]byte{161, 142, 100, 80}, 0x323e8fc2},
		{[4]byte{199, 92, 111, 2}, [4]byte{65, 69, 140, 83}, 0xd718262a},
		{[4]byte{24, 19, 198, 95}, [4]byte{12, 22, 207, 184}, 0xd2d0a5de},
	} {
		in := append(tc.src[:], tc.dst[:]...)
		if got := Toeplitz(key, in); got != tc.want {
			t.Errorf("%v -> %v: %#x, want %#x", tc.src, tc.dst, got, tc.want)
		}
	}
}

func TestSymmetricKeyHashesBothDirectionsAlike(t *testing.T) {
	tb := &Table{Key: SymmetricKey(40), RETA: make([]uint16, 128)}
	for i := range tb.RETA {
		tb.RETA[i] = uint16(i % 4)
	}
	seen := map[uint16]bool{}
	for i := 0; i < 2000; i++ {
		var a, b [16]byte
		binary.BigEndian.PutUint32(a[:], 0xc6120000+uint32(i)*7919)
		binary.BigEndian.PutUint32(b[:], 0xc6130000+uint32(i)*104729)
		q := tb.QueueOf(&a, &b, packet.FamilyIPv4)
		if r := tb.QueueOf(&b, &a, packet.FamilyIPv4); r != q {
			t.Fatalf("pair %d: queue %d one way, %d the other", i, q, r)
		}
		seen[q] = true
		a6, b6 := a, b
		a6[15], b6[15] = byte(i), byte(i>>3)
		if tb.QueueOf(&a6, &b6, packet.FamilyIPv6) != tb.QueueOf(&b6, &a6, packet.FamilyIPv6) {
			t.Fatalf("IPv6 pair %d not symmetric", i)
		}
	}
	if len(seen) != 4 {
		t.Errorf("2000 pairs reached %d of 4 queues", len(seen))
	}
}
