package flowtable

import (
	"encoding/binary"
	"math/bits"

	"github.com/statewall/statewall/dataplane/packet"
)

// Key4 is the canonical key of an IPv4 connection: the endpoint that sorts
// lower (address bytes, then port) is A, so both directions find one key.
// It is 16 bytes, comparable and pointer-free.
type Key4 struct {
	A, B         [4]byte
	PortA, PortB uint16
	Proto        uint8
	Zone         uint16
}

// Key6 is the canonical key of an IPv6 connection (see Key4).
type Key6 struct {
	A, B         [16]byte
	PortA, PortB uint16
	Proto        uint8
	Zone         uint16
}

// MakeKey4 builds the canonical key of an IPv4 tuple in the given zone;
// srcIsB reports that the tuple's source is the key's B endpoint.
func MakeKey4(t *packet.Tuple, zone uint16) (k Key4, srcIsB bool) {
	s := binary.BigEndian.Uint32(t.Src[:4])
	d := binary.BigEndian.Uint32(t.Dst[:4])
	srcIsB = s > d || (s == d && t.SrcPort > t.DstPort)
	if srcIsB {
		copy(k.A[:], t.Dst[:4])
		copy(k.B[:], t.Src[:4])
		k.PortA, k.PortB = t.DstPort, t.SrcPort
	} else {
		copy(k.A[:], t.Src[:4])
		copy(k.B[:], t.Dst[:4])
		k.PortA, k.PortB = t.SrcPort, t.DstPort
	}
	k.Proto = t.Proto
	k.Zone = zone
	return k, srcIsB
}

// MakeKey6 builds the canonical key of an IPv6 tuple in the given zone;
// srcIsB reports that the tuple's source is the key's B endpoint.
func MakeKey6(t *packet.Tuple, zone uint16) (k Key6, srcIsB bool) {
	s0, s1 := binary.BigEndian.Uint64(t.Src[:8]), binary.BigEndian.Uint64(t.Src[8:])
	d0, d1 := binary.BigEndian.Uint64(t.Dst[:8]), binary.BigEndian.Uint64(t.Dst[8:])
	srcIsB = s0 > d0 || (s0 == d0 && (s1 > d1 || (s1 == d1 && t.SrcPort > t.DstPort)))
	if srcIsB {
		k.A, k.B = t.Dst, t.Src
		k.PortA, k.PortB = t.DstPort, t.SrcPort
	} else {
		k.A, k.B = t.Src, t.Dst
		k.PortA, k.PortB = t.SrcPort, t.DstPort
	}
	k.Proto = t.Proto
	k.Zone = zone
	return k, srcIsB
}

// Tuple returns the key as a packet tuple in the original direction, given
// the entry's FlagOrigIsB.
func (k Key4) Tuple(origIsB bool) packet.Tuple {
	t := packet.Tuple{Proto: k.Proto, Family: packet.FamilyIPv4}
	if origIsB {
		copy(t.Src[:4], k.B[:])
		copy(t.Dst[:4], k.A[:])
		t.SrcPort, t.DstPort = k.PortB, k.PortA
	} else {
		copy(t.Src[:4], k.A[:])
		copy(t.Dst[:4], k.B[:])
		t.SrcPort, t.DstPort = k.PortA, k.PortB
	}
	return t
}

// Tuple returns the key as a packet tuple in the original direction, given
// the entry's FlagOrigIsB.
func (k Key6) Tuple(origIsB bool) packet.Tuple {
	t := packet.Tuple{Proto: k.Proto, Family: packet.FamilyIPv6}
	if origIsB {
		t.Src, t.Dst = k.B, k.A
		t.SrcPort, t.DstPort = k.PortB, k.PortA
	} else {
		t.Src, t.Dst = k.A, k.B
		t.SrcPort, t.DstPort = k.PortA, k.PortB
	}
	return t
}

// Mixing constants (wyhash's default secret).
const (
	hashP0 = 0xa0761d6478bd642f
	hashP1 = 0xe7037ed1a0b428db
	hashP2 = 0x8ebc6af09c88c6e3
	hashP3 = 0x589965cc75374cc3
)

// mix is wyhash's folded 64x64->128 multiply.
func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// Hash returns a 64-bit hash of the key (wyhash-style multiply-fold over the
// fields; symmetric because the key is canonical). It is not seeded.
func (k Key4) Hash() uint64 {
	w0 := uint64(binary.LittleEndian.Uint32(k.A[:])) | uint64(binary.LittleEndian.Uint32(k.B[:]))<<32
	w1 := uint64(k.PortA) | uint64(k.PortB)<<16 | uint64(k.Proto)<<32 | uint64(k.Zone)<<40
	return mix(hashP1^16, mix(w0^hashP1, w1^hashP0))
}

// Hash returns a 64-bit hash of the key (see Key4.Hash).
func (k Key6) Hash() uint64 {
	a0 := binary.LittleEndian.Uint64(k.A[:8])
	a1 := binary.LittleEndian.Uint64(k.A[8:])
	b0 := binary.LittleEndian.Uint64(k.B[:8])
	b1 := binary.LittleEndian.Uint64(k.B[8:])
	w := uint64(k.PortA) | uint64(k.PortB)<<16 | uint64(k.Proto)<<32 | uint64(k.Zone)<<40
	h := mix(a0^hashP1, a1^hashP0)
	h ^= mix(b0^hashP2, b1^hashP3)
	return mix(hashP1^40, mix(h^hashP0, w^hashP2))
}
