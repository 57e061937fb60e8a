package flowtable

import (
	"encoding/binary"
	"math/bits"

	"github.com/statewall/statewall/dataplane/packet"
)

// Key4 is the canonical key of an IPv4 connection: the endpoint that sorts
// lower (address, then port) is A, so both directions find one key. It is
// 16 bytes, comparable and pointer-free, and has four fields so that the
// compiler keeps it in registers (a larger struct is built in memory field
// by field and read back whole, which stalls on store forwarding).
type Key4 struct {
	A, B  uint32 // addresses, as big-endian numbers
	Ports uint32 // port of A << 16 | port of B
	Meta  uint32 // protocol << 16 | zone
}

// Key6 is the canonical key of an IPv6 connection (see Key4).
//
// Each address is two big-endian numbers, its first 8 bytes (A0, B0) and
// its last 8 (A1, B1): fields, not arrays, so that a Key6 is passed and
// returned in registers (Go's ABI passes arrays longer than one element
// in memory, and reading back what was just stored there stalls).
type Key6 struct {
	A0, A1, B0, B1 uint64
	Ports          uint32 // port of A << 16 | port of B
	Meta           uint32 // protocol << 16 | zone
}

// NewKey4 returns the key with these fields as they are (the caller
// orders the endpoints; MakeKey4 does).
func NewKey4(a, b uint32, portA, portB uint16, proto uint8, zone uint16) Key4 {
	return Key4{A: a, B: b, Ports: uint32(portA)<<16 | uint32(portB), Meta: meta(proto, zone)}
}

func meta(proto uint8, zone uint16) uint32 { return uint32(proto)<<16 | uint32(zone) }

// PortA returns the port of endpoint A.
func (k Key4) PortA() uint16 { return uint16(k.Ports >> 16) }

// PortB returns the port of endpoint B.
func (k Key4) PortB() uint16 { return uint16(k.Ports) }

// Proto returns the IP protocol.
func (k Key4) Proto() uint8 { return uint8(k.Meta >> 16) }

// Zone returns the conntrack zone.
func (k Key4) Zone() uint16 { return uint16(k.Meta) }

// PortA returns the port of endpoint A.
func (k Key6) PortA() uint16 { return uint16(k.Ports >> 16) }

// PortB returns the port of endpoint B.
func (k Key6) PortB() uint16 { return uint16(k.Ports) }

// Proto returns the IP protocol.
func (k Key6) Proto() uint8 { return uint8(k.Meta >> 16) }

// Zone returns the conntrack zone.
func (k Key6) Zone() uint16 { return uint16(k.Meta) }

// MakeKey4 builds the canonical key of an IPv4 tuple in the given zone;
// srcIsB reports that the tuple's source is the key's B endpoint.
func MakeKey4(t *packet.Tuple, zone uint16) (k Key4, srcIsB bool) {
	return MakeKey4Addr(binary.BigEndian.Uint32(t.Src[:4]), binary.BigEndian.Uint32(t.Dst[:4]),
		t.SrcPort, t.DstPort, t.Proto, zone)
}

// MakeKey4Addr is MakeKey4 from the fields themselves (addresses as
// big-endian numbers).
//
// It has no branch: which endpoint is A depends on the packet's direction,
// which is random from one packet to the next, and a mispredicted branch
// costs more than the whole key (the endpoints are ordered as 48-bit
// numbers, address then port, and min and max compile to conditional
// moves).
func MakeKey4Addr(src, dst uint32, sport, dport uint16, proto uint8, zone uint16) (k Key4, srcIsB bool) {
	s := uint64(src)<<16 | uint64(sport)
	d := uint64(dst)<<16 | uint64(dport)
	a, b := min(s, d), max(s, d)
	return Key4{A: uint32(a >> 16), B: uint32(b >> 16), Ports: uint32(a)<<16 | uint32(b)&0xffff, Meta: meta(proto, zone)}, s > d
}

// MakeKey6 builds the canonical key of an IPv6 tuple in the given zone;
// srcIsB reports that the tuple's source is the key's B endpoint.
func MakeKey6(t *packet.Tuple, zone uint16) (k Key6, srcIsB bool) {
	srcIsB = MakeKey6Addr(&k, &t.Src, &t.Dst, t.SrcPort, t.DstPort, t.Proto, zone)
	return k, srcIsB
}

// MakeKey6Addr is MakeKey6 from the fields themselves, into k. Like
// MakeKey4Addr it has no branch: the endpoints are ordered as 144-bit
// numbers (address, then port) by a chain of subtractions, and the
// borrow picks them with masks. It writes k field by field: a Key6 has
// too many fields for the compiler to keep one in registers, so a Key6
// returned and assigned is copied through memory in 16-byte moves, each
// of which waits for the 8-byte stores it reads to retire.
func MakeKey6Addr(k *Key6, src, dst *[16]byte, sport, dport uint16, proto uint8, zone uint16) (srcIsB bool) {
	s0, s1 := binary.BigEndian.Uint64(src[:8]), binary.BigEndian.Uint64(src[8:])
	d0, d1 := binary.BigEndian.Uint64(dst[:8]), binary.BigEndian.Uint64(dst[8:])
	// src > dst exactly when dst - src borrows.
	_, borrow := bits.Sub64(uint64(dport), uint64(sport), 0)
	_, borrow = bits.Sub64(d1, s1, borrow)
	_, borrow = bits.Sub64(d0, s0, borrow)
	m := -borrow // all ones when src is B
	a0, a1 := s0^(s0^d0)&m, s1^(s1^d1)&m
	b0, b1 := s0^d0^a0, s1^d1^a1
	k.A0, k.A1, k.B0, k.B1 = a0, a1, b0, b1
	sp, dp := uint32(sport), uint32(dport)
	pa := sp ^ (sp^dp)&uint32(m)
	k.Ports = pa<<16 | (sp ^ dp ^ pa)
	k.Meta = meta(proto, zone)
	return borrow != 0
}

// Tuple returns the key as a packet tuple in the original direction, given
// the entry's FlagOrigIsB.
func (k Key4) Tuple(origIsB bool) packet.Tuple {
	t := packet.Tuple{Proto: k.Proto(), Family: packet.FamilyIPv4}
	src, dst := k.A, k.B
	t.SrcPort, t.DstPort = k.PortA(), k.PortB()
	if origIsB {
		src, dst = k.B, k.A
		t.SrcPort, t.DstPort = t.DstPort, t.SrcPort
	}
	binary.BigEndian.PutUint32(t.Src[:4], src)
	binary.BigEndian.PutUint32(t.Dst[:4], dst)
	return t
}

// addr6 is an address of a Key6 as bytes.
func addr6(w0, w1 uint64) (a [16]byte) {
	binary.BigEndian.PutUint64(a[:8], w0)
	binary.BigEndian.PutUint64(a[8:], w1)
	return a
}

// Equal reports whether k and o are the same key: k == o, without the
// call to runtime.memequal that == makes of 40 bytes.
func (k *Key6) Equal(o *Key6) bool {
	return (k.A0^o.A0)|(k.A1^o.A1)|(k.B0^o.B0)|(k.B1^o.B1)|
		uint64((k.Ports^o.Ports)|(k.Meta^o.Meta)) == 0
}

// Tuple returns the key as a packet tuple in the original direction, given
// the entry's FlagOrigIsB.
func (k Key6) Tuple(origIsB bool) packet.Tuple {
	t := packet.Tuple{Proto: k.Proto(), Family: packet.FamilyIPv6}
	t.Src, t.Dst = addr6(k.A0, k.A1), addr6(k.B0, k.B1)
	t.SrcPort, t.DstPort = k.PortA(), k.PortB()
	if origIsB {
		t.Src, t.Dst = t.Dst, t.Src
		t.SrcPort, t.DstPort = t.DstPort, t.SrcPort
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
	w0 := uint64(k.A) | uint64(k.B)<<32
	w1 := uint64(k.Ports) | uint64(k.Meta)<<32
	// One folded multiply: the table remixes the hash with its seed
	// before it picks a bucket (Table.home), which finishes the avalanche.
	return mix(w0^hashP1, w1^hashP0)
}

// Hash returns a 64-bit hash of the key (see Key4.Hash).
func (k Key6) Hash() uint64 { return HashKey6(&k) }

// HashKey6 is k.Hash() without the copy of k (see MakeKey6Addr). Three
// folded multiplies, every word of the key in one of them: as in
// Key4.Hash, the table's remix with its seed finishes the avalanche. It
// stays within the compiler's inlining budget, so that the IPv6 fast
// path (conntrack's BeginTCP6, inlined into the pipeline's parse pass)
// inlines it too: a profile's hot edge does not reach a call nested in
// an inlined body.
func HashKey6(k *Key6) uint64 {
	return mix(mix(k.A0^hashP1, k.A1^hashP0)^k.B0, mix(k.B1^hashP3, (uint64(k.Ports)|uint64(k.Meta)<<32)^hashP2))
}
