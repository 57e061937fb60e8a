package rules

import (
	"encoding/binary"
	"testing"

	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/flowtable/ctstate"
)

// FuzzClassify feeds arbitrary packet fields to fixed random rulesets (one
// with a decision tree, one scanning bit vectors) and checks both against
// the linear reference.
func FuzzClassify(f *testing.F) {
	g := newGen(5, 3)
	cfg := g.config(300)
	rs, err := Compile(cfg, 1)
	if err != nil || rs.filter.tree == nil {
		f.Fatal("the fuzzed ruleset should build a decision tree", err)
	}
	scan := *rs
	scan.filter = buildWith(cfg.Rules, len(cfg.Ports), false)
	for i := 0; i < 64; i++ {
		var p packet.Parsed
		st, dir, in := g.packet(cfg, &p)
		b := make([]byte, 0, 64)
		b = append(b, byte(st), byte(dir), byte(in), byte(p.Tuple.Family), p.Tuple.Proto, p.TCP.Flags, p.ICMP.Type, p.ICMP.Code)
		b = binary.BigEndian.AppendUint16(b, p.Tuple.SrcPort)
		b = binary.BigEndian.AppendUint16(b, p.Tuple.DstPort)
		b = binary.BigEndian.AppendUint16(b, p.VLAN[0])
		b = append(b, p.VLANs)
		b = append(b, p.Tuple.Src[:]...)
		b = append(b, p.Tuple.Dst[:]...)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var buf [47]byte
		copy(buf[:], b)
		var p packet.Parsed
		st, dir, in := ctstate.State(buf[0]), ctstate.Dir(buf[1]), uint16(buf[2])
		p.Tuple.Family = packet.Family(buf[3])
		p.Tuple.Proto, p.TCP.Flags, p.ICMP.Type, p.ICMP.Code = buf[4], buf[5], buf[6], buf[7]
		p.Tuple.SrcPort = binary.BigEndian.Uint16(buf[8:])
		p.Tuple.DstPort = binary.BigEndian.Uint16(buf[10:])
		p.VLAN[0] = binary.BigEndian.Uint16(buf[12:])
		p.VLANs = buf[14] & 3
		copy(p.Tuple.Src[:], buf[15:31])
		copy(p.Tuple.Dst[:], buf[31:47])
		want := rs.ClassifyLinear(&p, st, dir, in)
		if got := rs.Classify(&p, st, dir, in); got != want {
			t.Fatalf("tree: got %+v want %+v", got, want)
		}
		if got := scan.Classify(&p, st, dir, in); got != want {
			t.Fatalf("scan: got %+v want %+v", got, want)
		}
		if rs.NoTrack(&p, in) != rs.NoTrackLinear(&p, in) {
			t.Fatal("NoTrack disagrees")
		}
	})
}
