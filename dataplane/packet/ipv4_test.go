package packet

import (
	"math/rand/v2"
	"testing"
)

func TestHeaderSum20MatchesChecksum(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 10000; i++ {
		b := make([]byte, 20)
		for j := range b {
			switch i % 3 {
			case 0:
				b[j] = 0xff // the largest sums
			case 1:
				b[j] = byte(rnd.Uint32())
			default:
				b[j] = byte(rnd.Uint32() | 0xf0)
			}
		}
		if got, want := headerSum20(b), Checksum(b, 0); got != want {
			t.Fatalf("% x: headerSum20 %#x, Checksum %#x", b, got, want)
		}
	}
}
