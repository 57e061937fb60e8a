package flowtable

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
	"testing"

	"github.com/statewall/statewall/dataplane/packet"
)

func tuple4(src, dst [4]byte, sp, dp uint16, proto uint8) packet.Tuple {
	t := packet.Tuple{SrcPort: sp, DstPort: dp, Proto: proto, Family: packet.FamilyIPv4}
	copy(t.Src[:], src[:])
	copy(t.Dst[:], dst[:])
	return t
}

func reverse(t packet.Tuple) packet.Tuple {
	t.Src, t.Dst = t.Dst, t.Src
	t.SrcPort, t.DstPort = t.DstPort, t.SrcPort
	return t
}

func TestMakeKey4BothDirections(t *testing.T) {
	cases := []packet.Tuple{
		tuple4([4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}, 1234, 80, packet.ProtoTCP),
		tuple4([4]byte{10, 0, 0, 2}, [4]byte{10, 0, 0, 1}, 1234, 80, packet.ProtoTCP),
		tuple4([4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 1}, 80, 1234, packet.ProtoUDP), // same address
		tuple4([4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 1}, 7, 7, packet.ProtoUDP),     // same endpoint
		tuple4([4]byte{255, 0, 0, 0}, [4]byte{1, 255, 255, 255}, 0, 0, 47),
	}
	for _, tc := range cases {
		k1, b1 := MakeKey4(&tc, 3)
		rt := reverse(tc)
		k2, b2 := MakeKey4(&rt, 3)
		if k1 != k2 {
			t.Errorf("%v: keys differ by direction: %+v %+v", tc, k1, k2)
		}
		if k1.Hash() != k2.Hash() {
			t.Errorf("%v: hashes differ by direction", tc)
		}
		if tc.Src != tc.Dst || tc.SrcPort != tc.DstPort {
			if b1 == b2 {
				t.Errorf("%v: srcIsB is %v both ways", tc, b1)
			}
		}
		if got := k1.Tuple(b1); got != tc {
			t.Errorf("Tuple(%v) = %+v, want %+v", b1, got, tc)
		}
		if got := k1.Tuple(b2); got != rt {
			t.Errorf("Tuple(%v) = %+v, want %+v", b2, got, rt)
		}
		if k1.Zone() != 3 || k1.Proto() != tc.Proto {
			t.Errorf("zone/proto lost: %+v", k1)
		}
	}
	// Canonical order: A sorts lower.
	tc := tuple4([4]byte{192, 168, 0, 1}, [4]byte{10, 0, 0, 1}, 1, 2, packet.ProtoTCP)
	k, srcIsB := MakeKey4(&tc, 0)
	if !srcIsB || k.A != 10<<24|1 || k.PortA() != 2 {
		t.Errorf("not canonical: %+v srcIsB=%v", k, srcIsB)
	}
}

// TestMakeKey4AddrOrdersEndpoints checks the branchless MakeKey4Addr
// against the definition: A is the lower endpoint, address first, then
// port; small random values make ties of addresses and ports common.
func TestMakeKey4AddrOrdersEndpoints(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 100_000 {
		src, dst := r.Uint32N(4)<<30|r.Uint32N(3), r.Uint32N(4)<<30|r.Uint32N(3)
		sp, dp := uint16(r.Uint32N(3))<<15|uint16(r.Uint32N(2)), uint16(r.Uint32N(3))<<15|uint16(r.Uint32N(2))
		wantB := src > dst || (src == dst && sp > dp)
		want := Key4{A: src, B: dst, Ports: uint32(sp)<<16 | uint32(dp), Meta: meta(packet.ProtoUDP, 9)}
		if wantB {
			want = Key4{A: dst, B: src, Ports: uint32(dp)<<16 | uint32(sp), Meta: want.Meta}
		}
		if k, b := MakeKey4Addr(src, dst, sp, dp, packet.ProtoUDP, 9); k != want || b != wantB {
			t.Fatalf("MakeKey4Addr(%#x, %#x, %d, %d) = %+v, %v; want %+v, %v", src, dst, sp, dp, k, b, want, wantB)
		}
	}
}

func TestMakeKey6BothDirections(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		tc := packet.Tuple{Proto: packet.ProtoTCP, Family: packet.FamilyIPv6,
			SrcPort: uint16(rng.IntN(4)), DstPort: uint16(rng.IntN(4))}
		for i := range 16 {
			tc.Src[i] = byte(rng.IntN(2))
			tc.Dst[i] = byte(rng.IntN(2))
		}
		k1, b1 := MakeKey6(&tc, 0)
		rt := reverse(tc)
		k2, b2 := MakeKey6(&rt, 0)
		if k1 != k2 || k1.Hash() != k2.Hash() {
			t.Fatalf("%v: keys differ by direction", tc)
		}
		if (tc.Src != tc.Dst || tc.SrcPort != tc.DstPort) && b1 == b2 {
			t.Fatalf("%v: srcIsB is %v both ways", tc, b1)
		}
		if got := k1.Tuple(b1); got != tc {
			t.Fatalf("Tuple = %+v, want %+v", got, tc)
		}
	}
}

// TestMakeKey6AddrOrdersEndpoints is TestMakeKey4AddrOrdersEndpoints for
// MakeKey6Addr: A is the lower endpoint, address (bytewise) first, then
// port.
func TestMakeKey6AddrOrdersEndpoints(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 100_000 {
		var src, dst [16]byte
		for _, i := range []int{0, 7, 8, 15} { // ties in either half are common
			src[i], dst[i] = byte(r.Uint32N(2))<<7|byte(r.Uint32N(2)), byte(r.Uint32N(2))<<7|byte(r.Uint32N(2))
		}
		sp, dp := uint16(r.Uint32N(3))<<15|uint16(r.Uint32N(2)), uint16(r.Uint32N(3))<<15|uint16(r.Uint32N(2))
		c := bytes.Compare(src[:], dst[:])
		wantB := c > 0 || (c == 0 && sp > dp)
		w := func(a [16]byte, i int) uint64 { return binary.BigEndian.Uint64(a[8*i:]) }
		want := Key6{A0: w(src, 0), A1: w(src, 1), B0: w(dst, 0), B1: w(dst, 1), Ports: uint32(sp)<<16 | uint32(dp), Meta: meta(packet.ProtoTCP, 3)}
		if wantB {
			want = Key6{A0: w(dst, 0), A1: w(dst, 1), B0: w(src, 0), B1: w(src, 1), Ports: uint32(dp)<<16 | uint32(sp), Meta: want.Meta}
		}
		var k Key6
		if b := MakeKey6Addr(&k, &src, &dst, sp, dp, packet.ProtoTCP, 3); k != want || b != wantB {
			t.Fatalf("MakeKey6Addr(%x, %x, %d, %d) = %+v, %v; want %+v, %v", src, dst, sp, dp, k, b, want, wantB)
		}
	}
}

// TestHashSpread checks that keys differing in one field land in well-spread
// buckets: no bucket of 1024 gets more than three times its share.
func TestHashSpread(t *testing.T) {
	const nb = 1024
	check := func(name string, hash func(i int) uint64) {
		var counts [nb]int
		const n = 64 * nb
		for i := range n {
			b, _ := bits.Mul64(hash(i), nb)
			counts[b]++
		}
		for b, c := range counts {
			if c > 3*n/nb || c == 0 {
				t.Errorf("%s: bucket %d has %d of %d", name, b, c, n)
				return
			}
		}
	}
	check("port", func(i int) uint64 { return NewKey4(0, 0, uint16(i), 80, 6, 0).Hash() })
	check("addr", func(i int) uint64 {
		return NewKey4(10<<24|uint32(i)&0xffffff, 0, 0, 80, 6, 0).Hash()
	})
	check("v6", func(i int) uint64 { return Key6{B1: uint64(i), Meta: 17 << 16}.Hash() })
}

// TestKey6Equal checks Equal against == for keys that differ in one field
// or in none.
func TestKey6Equal(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 10_000 {
		k := Key6{A0: r.Uint64(), A1: r.Uint64(), B0: r.Uint64(), B1: r.Uint64(), Ports: r.Uint32(), Meta: r.Uint32()}
		o := k
		switch bit := uint64(1) << r.IntN(64); r.IntN(7) {
		case 0:
			o.A0 ^= bit
		case 1:
			o.A1 ^= bit
		case 2:
			o.B0 ^= bit
		case 3:
			o.B1 ^= bit
		case 4:
			o.Ports ^= uint32(bit | bit>>32)
		case 5:
			o.Meta ^= uint32(bit | bit>>32)
		}
		if k.Equal(&o) != (k == o) {
			t.Fatalf("Equal(%+v, %+v) = %v", k, o, k.Equal(&o))
		}
	}
}
