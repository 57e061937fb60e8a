// Package rss computes in software what a NIC's receive-side scaling
// computes in hardware: the Toeplitz hash of a packet's address pair under
// the symmetric key (the 16-bit pattern 0x6d5a repeated, so both
// directions hash alike) and the RX queue the redirection table maps the
// hash to. The pipeline uses it to find the worker that owns a packet the
// NIC hashed on other fields: an ICMP error, hashed on its outer
// addresses (router to host), belongs to the connection it quotes.
package rss

import "github.com/statewall/statewall/dataplane/packet"

// SymmetricKey returns the symmetric Toeplitz key of n bytes (40 for most
// NICs, 52 for i40e).
func SymmetricKey(n int) []byte {
	k := make([]byte, n)
	for i := range k {
		if i%2 == 0 {
			k[i] = 0x6d
		} else {
			k[i] = 0x5a
		}
	}
	return k
}

// Toeplitz is the RSS hash of input under key, as Microsoft defines it and
// NICs compute it. key must be at least len(input)+4 bytes long.
func Toeplitz(key, input []byte) uint32 {
	var h uint32
	window := uint32(key[0])<<24 | uint32(key[1])<<16 | uint32(key[2])<<8 | uint32(key[3])
	next := 32 // the key bit shifted in next
	for _, b := range input {
		for i := 7; i >= 0; i-- {
			if b&(1<<i) != 0 {
				h ^= window
			}
			window <<= 1
			if next/8 < len(key) && key[next/8]&(0x80>>(next%8)) != 0 {
				window |= 1
			}
			next++
		}
	}
	return h
}

// Table is a port's RSS configuration: its key and redirection table
// (RETA: hash modulo its size gives the RX queue).
type Table struct {
	Key  []byte
	RETA []uint16
}

// QueueOf returns the RX queue the NIC delivers a packet of the address
// pair src, dst (family fam) to, hashing the IP addresses only (the
// port's RSS hashes layer 3: every packet between two hosts, fragments
// included, lands on one queue in both directions).
func (t *Table) QueueOf(src, dst *[16]byte, fam packet.Family) uint16 {
	var in [32]byte
	n := 4
	if fam == packet.FamilyIPv6 {
		n = 16
	}
	copy(in[:n], src[:n])
	copy(in[n:2*n], dst[:n])
	if len(t.RETA) == 0 {
		return 0
	}
	return t.RETA[Toeplitz(t.Key, in[:2*n])%uint32(len(t.RETA))]
}
