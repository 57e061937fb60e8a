package rules

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"

	"github.com/statewall/statewall/config"
	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/flowtable/ctstate"
)

// gen makes random rulesets and packets that hit them often.
type gen struct {
	r      *rand.Rand
	nports int
	v4     []netip.Prefix // address pools rules draw from, so they overlap
	v6     []netip.Prefix
	// specific rulesets constrain proto, src, dst and dport in every
	// rule (as ClassBench's firewall sets do), so packets hit deep rules.
	specific bool
	// sets makes a fifth of firewall rules multi-valued (set references).
	sets bool
}

func newGen(seed uint64, nports int) *gen {
	g := &gen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), nports: nports}
	for i := 0; i < 64; i++ {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], g.r.Uint32())
		if g.r.IntN(2) == 0 {
			b[0], b[1] = 198, 18+byte(g.r.IntN(2))
		}
		g.v4 = append(g.v4, netip.PrefixFrom(netip.AddrFrom4(b), 8+g.r.IntN(25)).Masked())
		var c [16]byte
		binary.BigEndian.PutUint64(c[:8], g.r.Uint64())
		binary.BigEndian.PutUint64(c[8:], g.r.Uint64())
		c[0] = 0xfd
		if g.r.IntN(4) == 0 {
			c[0] = byte(g.r.IntN(256))
		}
		g.v6 = append(g.v6, netip.PrefixFrom(netip.AddrFrom16(c), []int{0, 8, 16, 48, 56, 64, 65, 96, 120, 127, 128}[g.r.IntN(11)]).Masked())
	}
	return g
}

func (g *gen) chance(n int) bool { return g.r.IntN(n) == 0 }

func (g *gen) prefixes() []netip.Prefix {
	n := 1 + g.r.IntN(3)
	out := make([]netip.Prefix, 0, n)
	for i := 0; i < n; i++ {
		var p netip.Prefix
		if g.chance(2) {
			p = g.v4[g.r.IntN(len(g.v4))]
		} else {
			p = g.v6[g.r.IntN(len(g.v6))]
		}
		// Narrow it sometimes, so rules nest.
		if g.chance(2) && p.Bits() < p.Addr().BitLen() {
			bits := p.Bits() + 1 + g.r.IntN(p.Addr().BitLen()-p.Bits())
			p = netip.PrefixFrom(g.addrIn(p), bits).Masked()
		}
		out = append(out, p)
	}
	return out
}

func (g *gen) addrIn(p netip.Prefix) netip.Addr {
	b := p.Addr().As16()
	if p.Addr().Is4() {
		b4 := p.Addr().As4()
		v := binary.BigEndian.Uint32(b4[:])
		host := uint32(1)<<(32-p.Bits()) - 1
		if p.Bits() == 0 {
			host = ^uint32(0)
		}
		v = v&^host | g.r.Uint32()&host
		binary.BigEndian.PutUint32(b4[:], v)
		return netip.AddrFrom4(b4)
	}
	for i := p.Bits(); i < 128; i++ {
		if g.chance(2) {
			b[i/8] |= 0x80 >> (i % 8)
		}
	}
	return netip.AddrFrom16(b)
}

func (g *gen) ranges(max int) []config.Range {
	n := 1 + g.r.IntN(3)
	out := make([]config.Range, n)
	for i := range out {
		lo := g.r.IntN(max + 1)
		if g.chance(2) {
			lo = []int{0, 21, 22, 53, 80, 443, 8080, 1024, max}[g.r.IntN(9)] % (max + 1)
		}
		hi := lo
		if g.chance(3) {
			hi = lo + g.r.IntN(max+1-lo)
		}
		out[i] = config.Range{Lo: uint16(lo), Hi: uint16(hi)}
	}
	return out
}

var genProtos = []uint8{packet.ProtoTCP, packet.ProtoUDP, packet.ProtoICMP, packet.ProtoICMPv6, 47, 132}

func (g *gen) match(fieldOdds int) config.Match {
	var m config.Match
	if g.specific {
		m.Protos = []uint8{genProtos[g.r.IntN(2)]}
		m.Src, m.Dst, m.DstPorts = g.prefixes(), g.prefixes(), g.ranges(65535)
	}
	if g.chance(fieldOdds) {
		for s := ctstate.Invalid; s <= ctstate.Untracked; s++ {
			if g.chance(2) {
				m.States = m.States.With(s)
			}
		}
	}
	if g.chance(fieldOdds * 2) {
		m.Direction = config.Direction(1 + g.r.IntN(2))
	}
	if m.Protos == nil && g.chance(fieldOdds) {
		m.Protos = []uint8{genProtos[g.r.IntN(len(genProtos))]}
		if g.chance(4) {
			m.Protos = append(m.Protos, genProtos[g.r.IntN(len(genProtos))])
		}
	}
	if m.Src == nil && g.chance(fieldOdds) {
		m.Src = g.prefixes()
	}
	if m.Dst == nil && g.chance(fieldOdds) {
		m.Dst = g.prefixes()
	}
	if g.chance(fieldOdds) {
		m.SrcPorts = g.ranges(65535)
	}
	if m.DstPorts == nil && g.chance(fieldOdds) {
		m.DstPorts = g.ranges(65535)
	}
	if g.nports > 0 && g.chance(fieldOdds*2) {
		m.InPorts = []uint16{uint16(g.r.IntN(g.nports))}
	}
	if g.chance(fieldOdds * 3) {
		m.ICMP = g.ranges(65535)
	}
	if g.chance(fieldOdds * 3) {
		m.TCPFlagsMask = uint8(g.r.Uint32())
		m.TCPFlagsValue = uint8(g.r.Uint32()) & m.TCPFlagsMask
	}
	if g.chance(fieldOdds * 3) {
		m.VLAN = g.ranges(config.VLANUntagged)
	}
	return m
}

// config returns a random configuration of n rules and a few notrack rules.
func (g *gen) config(n int) *config.Config {
	cfg := &config.Config{File: "random.toml"}
	for i := 0; i < g.nports; i++ {
		cfg.Ports = append(cfg.Ports, config.Port{Name: fmt.Sprintf("p%d", i), Role: []string{"inside", "outside"}[i%2]})
	}
	cfg.Policy = config.Policy{Forward: config.Action(g.r.IntN(3)), InRole: map[string]config.Action{}}
	if g.nports > 0 && g.chance(2) {
		cfg.Policy.InRole["outside"] = config.Drop
	}
	odds := 1 + g.r.IntN(4)
	for i := 0; i < n; i++ {
		cfg.Rules = append(cfg.Rules, config.Rule{
			Name:   fmt.Sprintf("r%d", i),
			Action: config.Action(g.r.IntN(3)),
			Log:    g.chance(4),
			Match:  g.match(odds),
		})
	}
	for i := 0; i < g.r.IntN(4); i++ {
		m := g.match(2)
		m.States, m.Direction = 0, config.DirAny
		cfg.NoTrack = append(cfg.NoTrack, config.Rule{Name: fmt.Sprintf("nt%d", i), Match: m})
	}
	return cfg
}

// packet fills p with a random packet, usually one inside some rule's
// match so that deep rules get hit.
func (g *gen) packet(cfg *config.Config, p *packet.Parsed) (ctstate.State, ctstate.Dir, uint16) {
	*p = packet.Parsed{}
	var m *config.Match
	if len(cfg.Rules) > 0 && !g.chance(4) {
		m = &cfg.Rules[g.r.IntN(len(cfg.Rules))].Match
	} else {
		m = &config.Match{}
	}
	st := ctstate.State(g.r.IntN(5))
	if m.States != 0 && !g.chance(8) {
		for !m.States.Has(st) {
			st = ctstate.State(g.r.IntN(5))
		}
	}
	if g.chance(100) {
		st = ctstate.State(5 + g.r.IntN(250))
	}
	dir := ctstate.Dir(g.r.IntN(2))
	if m.Direction != config.DirAny && !g.chance(8) {
		dir = ctstate.Dir(m.Direction - 1)
	}
	t := &p.Tuple
	t.Proto = genProtos[g.r.IntN(len(genProtos))]
	if len(m.Protos) > 0 && !g.chance(8) {
		t.Proto = m.Protos[g.r.IntN(len(m.Protos))]
	}
	if g.chance(50) {
		t.Proto = uint8(g.r.IntN(256))
	}
	pick := func(ps []netip.Prefix, v6 bool) netip.Addr {
		var cands []netip.Prefix
		for _, q := range ps {
			if q.Addr().Is6() == v6 {
				cands = append(cands, q)
			}
		}
		if len(cands) > 0 && !g.chance(8) {
			return g.addrIn(cands[g.r.IntN(len(cands))])
		}
		pool := g.v4
		if v6 {
			pool = g.v6
		}
		return g.addrIn(pool[g.r.IntN(len(pool))])
	}
	v6 := g.chance(2)
	if len(m.Src) > 0 && !g.chance(8) {
		v6 = m.Src[g.r.IntN(len(m.Src))].Addr().Is6()
	} else if len(m.Dst) > 0 && !g.chance(8) {
		v6 = m.Dst[g.r.IntN(len(m.Dst))].Addr().Is6()
	}
	src, dst := pick(m.Src, v6), pick(m.Dst, v6)
	t.Family = packet.FamilyIPv4
	if v6 {
		t.Family = packet.FamilyIPv6
		t.Src, t.Dst = src.As16(), dst.As16()
	} else {
		a, b := src.As4(), dst.As4()
		copy(t.Src[:], a[:])
		copy(t.Dst[:], b[:])
	}
	if g.chance(100) {
		t.Family = packet.FamilyNone
	}
	inRange := func(rs []config.Range, max int) uint16 {
		if len(rs) > 0 && !g.chance(8) {
			r := rs[g.r.IntN(len(rs))]
			return r.Lo + uint16(g.r.IntN(int(r.Hi-r.Lo)+1))
		}
		return uint16(g.r.IntN(max + 1))
	}
	t.SrcPort = inRange(m.SrcPorts, 65535)
	t.DstPort = inRange(m.DstPorts, 65535)
	icmp := inRange(m.ICMP, 65535)
	p.ICMP.Type, p.ICMP.Code = uint8(icmp>>8), uint8(icmp)
	p.TCP.Flags = uint8(g.r.Uint32())
	if m.TCPFlagsMask != 0 && !g.chance(4) {
		p.TCP.Flags = p.TCP.Flags&^m.TCPFlagsMask | m.TCPFlagsValue
	}
	if vlan := inRange(m.VLAN, config.VLANUntagged); vlan != config.VLANUntagged {
		p.VLANs = 1
		p.VLAN[0] = vlan
		if g.chance(10) {
			p.VLAN[0] |= 0x3000 // priority bits must be ignored
		}
	}
	inPort := uint16(0)
	if g.nports > 0 {
		inPort = uint16(g.r.IntN(g.nports))
		if len(m.InPorts) > 0 && !g.chance(8) {
			inPort = m.InPorts[0]
		}
	}
	if g.chance(100) {
		inPort = uint16(g.r.IntN(65536))
	}
	return st, dir, inPort
}

var servicePorts = []uint16{20, 21, 22, 23, 25, 53, 80, 110, 123, 143, 161, 389, 443, 445, 465, 514,
	587, 636, 993, 995, 1433, 1521, 1723, 2049, 3306, 3389, 5060, 5432, 5900, 6379, 8000, 8080, 8443, 9090, 9200, 11211}

// firewall returns a configuration shaped like a large enterprise
// firewall (ClassBench's "fw" seeds in spirit): ESTABLISHED/RELATED and
// INVALID first, then NEW rules that each name one destination network or
// host (/16../32, a fifth IPv6), one service port or a small range, TCP or
// UDP, sometimes a source network and an input port.
func (g *gen) firewall(n int) *config.Config {
	cfg := &config.Config{File: "firewall.toml", Policy: config.Policy{Forward: config.Drop}}
	for i := 0; i < g.nports; i++ {
		cfg.Ports = append(cfg.Ports, config.Port{Name: fmt.Sprintf("p%d", i), Role: []string{"inside", "outside"}[i%2]})
	}
	cfg.Rules = append(cfg.Rules,
		config.Rule{Name: "established", Action: config.Accept, Match: config.Match{States: ctstate.Set(0).With(ctstate.Established).With(ctstate.Related)}},
		config.Rule{Name: "invalid", Action: config.Drop, Match: config.Match{States: ctstate.Set(0).With(ctstate.Invalid)}})
	net := func(v6 bool, minBits int) netip.Prefix {
		if v6 {
			var b [16]byte
			b[0], b[1] = 0xfd, 0
			binary.BigEndian.PutUint64(b[2:10], g.r.Uint64()&0xffff_ffff_ffff)
			binary.BigEndian.PutUint64(b[8:], g.r.Uint64())
			return netip.PrefixFrom(netip.AddrFrom16(b), []int{48, 56, 64, 64, 128}[g.r.IntN(5)]).Masked()
		}
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], 10<<24|g.r.Uint32()&0xffffff)
		if g.chance(2) {
			binary.BigEndian.PutUint32(b[:], 198<<24|18<<16|g.r.Uint32()&0x1ffff)
		}
		bits := []int{16, 20, 24, 24, 24, 28, 32, 32, 32}[g.r.IntN(9)]
		return netip.PrefixFrom(netip.AddrFrom4(b), max(bits, minBits)).Masked()
	}
	for i := len(cfg.Rules); i < n; i++ {
		v6 := g.chance(5)
		m := config.Match{States: ctstate.Set(0).With(ctstate.New), Dst: []netip.Prefix{net(v6, 0)}}
		m.Protos = []uint8{packet.ProtoTCP}
		if g.chance(5) {
			m.Protos[0] = packet.ProtoUDP
		}
		p := servicePorts[g.r.IntN(len(servicePorts))]
		m.DstPorts = []config.Range{{Lo: p, Hi: p}}
		if g.chance(10) {
			lo := uint16(1024 + g.r.IntN(60000))
			m.DstPorts[0] = config.Range{Lo: lo, Hi: lo + uint16(g.r.IntN(500))}
		}
		if g.chance(4) {
			m.Src = []netip.Prefix{net(v6, 8)}
		}
		if g.nports > 0 && g.chance(3) {
			m.InPorts = []uint16{uint16(g.r.IntN(g.nports))}
		}
		if g.sets && g.chance(5) {
			// A fifth of the rules name sets: several networks and ports.
			for k := g.r.IntN(4); k >= 0; k-- {
				m.Dst = append(m.Dst, net(v6, 0))
			}
			for k := g.r.IntN(3); k >= 0; k-- {
				p := servicePorts[g.r.IntN(len(servicePorts))]
				m.DstPorts = append(m.DstPorts, config.Range{Lo: p, Hi: p})
			}
		}
		cfg.Rules = append(cfg.Rules, config.Rule{Name: fmt.Sprintf("r%d", i), Action: config.Action(g.r.IntN(3)), Match: m})
	}
	return cfg
}
