package rules

import (
	"net/netip"

	"github.com/statewall/statewall/config"
	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/flowtable/ctstate"
)

// ClassifyLinear is the reference classifier: it tries every rule in order
// with a plain reading of the config's match semantics. It allocates and is
// slow; tests compare Classify against it.
func (rs *Ruleset) ClassifyLinear(p *packet.Parsed, st ctstate.State, dir ctstate.Dir, inPort uint16) Match {
	cacheable := true
	for i := range rs.cfg.Rules {
		r := &rs.cfg.Rules[i]
		if !matchInvariant(&r.Match, p, st, dir, inPort) {
			continue
		}
		if len(r.Match.ICMP) > 0 || r.Match.TCPFlagsMask != 0 {
			cacheable = false
		}
		if matchVariant(&r.Match, p) {
			return Match{Rule: int32(i), Verdict: Verdict(r.Action), Log: r.Log, Cacheable: cacheable}
		}
	}
	return Match{Rule: NoRule, Verdict: Verdict(rs.cfg.Policy.For(rs.cfg.Ports, int(inPort))),
		Log: rs.cfg.Policy.Log, Cacheable: cacheable}
}

// NoTrackLinear is the reference for NoTrack.
func (rs *Ruleset) NoTrackLinear(p *packet.Parsed, inPort uint16) bool {
	for i := range rs.cfg.NoTrack {
		m := &rs.cfg.NoTrack[i].Match
		if matchInvariant(m, p, ctstate.Untracked, ctstate.Original, inPort) && matchVariant(m, p) {
			return true
		}
	}
	return false
}

func matchInvariant(m *config.Match, p *packet.Parsed, st ctstate.State, dir ctstate.Dir, inPort uint16) bool {
	t := &p.Tuple
	if m.States != 0 && !m.States.Has(st) {
		return false
	}
	if m.Direction == config.DirOriginal && dir == ctstate.Reply || m.Direction == config.DirReply && dir != ctstate.Reply {
		return false
	}
	if len(m.Protos) > 0 && !contains(m.Protos, t.Proto) {
		return false
	}
	if len(m.InPorts) > 0 && !contains(m.InPorts, inPort) {
		return false
	}
	if !addrIn(m.Src, t.Family, t.Src) || !addrIn(m.Dst, t.Family, t.Dst) {
		return false
	}
	if !inRanges(m.SrcPorts, t.SrcPort) || !inRanges(m.DstPorts, t.DstPort) {
		return false
	}
	vlan := uint16(config.VLANUntagged)
	if p.VLANs > 0 {
		vlan = p.VLAN[0] & 0xfff
	}
	return inRanges(m.VLAN, vlan)
}

func matchVariant(m *config.Match, p *packet.Parsed) bool {
	if !inRanges(m.ICMP, uint16(p.ICMP.Type)<<8|uint16(p.ICMP.Code)) {
		return false
	}
	return p.TCP.Flags&m.TCPFlagsMask == m.TCPFlagsValue
}

func contains[T comparable](s []T, v T) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func inRanges(rs []config.Range, v uint16) bool {
	if len(rs) == 0 {
		return true
	}
	for _, r := range rs {
		if r.Contains(v) {
			return true
		}
	}
	return false
}

func addrIn(ps []netip.Prefix, fam packet.Family, b [16]byte) bool {
	if len(ps) == 0 {
		return true
	}
	var a netip.Addr
	switch fam {
	case packet.FamilyIPv4:
		a = netip.AddrFrom4([4]byte(b[:4]))
	case packet.FamilyIPv6:
		a = netip.AddrFrom16(b)
	default:
		return false
	}
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
