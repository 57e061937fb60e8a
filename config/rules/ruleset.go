// Package rules compiles a validated configuration's rules into an
// immutable Ruleset and classifies packets against it: iptables order,
// first match wins, the policy decides the rest. Classify does not
// allocate and never scans the rules one by one.
//
// Two published schemes work together:
//
//   - Bit vectors (Lakshman and Stiliadis, SIGCOMM 1998) with aggregated
//     bit vectors (Baboescu and Varghese, SIGCOMM 2001): each field (ct
//     state and direction, protocol, source and destination address, ports,
//     input port, VLAN, ICMP type/code, TCP flags) maps the packet's value
//     to the bitset of rules that accept it (direct tables for fields of up
//     to 16 bits, elementary intervals with a 16-bit first-level index for
//     IPv4, binary search for IPv6). The first matching rule is the lowest
//     bit of the intersection, found word by word in rule order; the
//     aggregate vectors skip words where some field has no candidate.
//   - A HyperSplit decision tree (Qi et al., INFOCOM 2009) holds the rules
//     that look at no flow-variant field and are the union of at most 4
//     boxes (a box: one range per field; a rule's match is the product of
//     its fields' lists, so a rule naming 2 networks and 2 ports is 4
//     boxes), the bulk of a large firewall. Its nodes split one field's
//     range at a box boundary; a leaf lists its boxes in rule order, with
//     their checks inline, cut after the first box that covers the whole
//     leaf. The bit vectors then hold only the other rules (large sets,
//     TCP flags, ICMP types) and are scanned only below the tree's answer.
//     When the boxes overlap so much that the tree would replicate them
//     more than 16 times on average, there is no tree and the bit vectors
//     hold every rule.
//
// Both keep first-match semantics exactly, and both report whether the
// decision depended only on flow-invariant fields (Match.Cacheable); the
// tests compare them with ClassifyLinear, a plain rule-by-rule reference.
package rules

import (
	"fmt"
	"io"
	"strings"

	"github.com/statewall/statewall/config"
	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/flowtable/ctstate"
)

// Verdict is what the ruleset decides for a packet.
type Verdict uint8

// Verdicts.
const (
	Accept Verdict = iota
	Drop
	Reject
)

// String returns "accept", "drop" or "reject".
func (v Verdict) String() string { return config.Action(v).String() }

// NoRule is Match.Rule when the policy decided.
const NoRule = -1

// Match is the outcome of classifying one packet.
type Match struct {
	Rule    int32   // index into Rules() of the deciding rule, NoRule for the policy
	Verdict Verdict // the deciding rule's or policy's verdict
	Log     bool    // the deciding rule (or policy) asks for a log line
	// Cacheable says the decision depended only on flow-invariant fields
	// (addresses, ports, protocol, ct state, direction, input port, VLAN),
	// so the pipeline may cache it per flow, direction and state, tagged
	// with the Ruleset's Generation.
	Cacheable bool
}

// RuleInfo describes one compiled rule, for counters and listings.
type RuleInfo struct {
	Name    string
	Verdict Verdict
	Log     bool
	Line    int    // line in the config file, 0 if unknown
	Match   string // the match in config syntax
}

// Ruleset is an immutable compiled ruleset. It is shared by all workers
// (read-only) through an atomic pointer the reload controller swaps.
type Ruleset struct {
	// Generation increases with every reload; cached verdicts carry it.
	Generation uint64
	// KeepVerdicts is [reload] existing = "keep": verdicts cached under an
	// older generation stay valid; otherwise they are re-checked.
	KeepVerdicts bool

	cfg     *config.Config
	filter  *classifier
	notrack *classifier
	results []Match // per rule, with Cacheable unset
	policy  []Match // per input port, then one for unknown ports
	info    []RuleInfo
	nports  int
}

// Compile builds the ruleset of a validated configuration.
func Compile(cfg *config.Config, generation uint64) (*Ruleset, error) {
	if len(cfg.Ports) > 65535 {
		return nil, fmt.Errorf("rules: %d ports, at most 65535", len(cfg.Ports))
	}
	for _, list := range [][]config.Rule{cfg.Rules, cfg.NoTrack} {
		for i := range list {
			for _, p := range list[i].Match.InPorts {
				if int(p) >= len(cfg.Ports) {
					return nil, fmt.Errorf("rules: rule %q matches input port %d of %d", list[i].Name, p, len(cfg.Ports))
				}
			}
		}
	}
	rs := &Ruleset{
		Generation:   generation,
		KeepVerdicts: cfg.Reload.Existing == config.ExistingKeep,
		cfg:          cfg,
		nports:       len(cfg.Ports),
	}
	rs.filter = build(cfg.Rules, rs.nports)
	rs.notrack = build(cfg.NoTrack, rs.nports)
	rs.results = make([]Match, len(cfg.Rules))
	rs.info = make([]RuleInfo, len(cfg.Rules))
	for i := range cfg.Rules {
		r := &cfg.Rules[i]
		rs.results[i] = Match{Rule: int32(i), Verdict: Verdict(r.Action), Log: r.Log}
		rs.info[i] = RuleInfo{Name: r.Name, Verdict: Verdict(r.Action), Log: r.Log, Line: r.Line, Match: cfg.Describe(&r.Match)}
	}
	rs.policy = make([]Match, rs.nports+1)
	for i := range rs.policy {
		rs.policy[i] = Match{Rule: NoRule, Verdict: Verdict(cfg.Policy.For(cfg.Ports, i)), Log: cfg.Policy.Log}
	}
	return rs, nil
}

// Classify returns the verdict for a packet of state st travelling in
// direction dir that arrived on port inPort (the index of its [[port]]).
// It reads only p's header fields and does not allocate.
func (rs *Ruleset) Classify(p *packet.Parsed, st ctstate.State, dir ctstate.Dir, inPort uint16) Match {
	var k keys
	k.fill(p, st, dir, inPort, rs.nports)
	r, cacheable := rs.filter.lookup(&k)
	var m Match
	if r < 0 {
		m = rs.policy[k.inPort]
	} else {
		m = rs.results[r]
	}
	m.Cacheable = cacheable
	return m
}

// HasNoTrack reports whether the ruleset has [[notrack]] rules (NoTrack
// is then false for every packet).
func (rs *Ruleset) HasNoTrack() bool { return rs.notrack.n > 0 }

// NoTrack reports whether a [[notrack]] rule exempts the packet from
// connection tracking; it runs before tracking, as iptables' raw table.
func (rs *Ruleset) NoTrack(p *packet.Parsed, inPort uint16) bool {
	if rs.notrack.n == 0 {
		return false
	}
	var k keys
	k.fill(p, ctstate.Untracked, ctstate.Original, inPort, rs.nports)
	r, _ := rs.notrack.lookup(&k)
	return r >= 0
}

// Rules describes the filter rules in order; Match.Rule indexes it.
func (rs *Ruleset) Rules() []RuleInfo { return rs.info }

// PolicyName is the name replay and listings print when the policy decided.
func (rs *Ruleset) PolicyName() string { return "policy" }

// Config returns the configuration the ruleset was compiled from; callers
// must not modify it.
func (rs *Ruleset) Config() *config.Config { return rs.cfg }

// MemoryBytes is the size of the classifier's lookup structures.
func (rs *Ruleset) MemoryBytes() int { return rs.filter.memory() + rs.notrack.memory() }

func (c *classifier) memory() int {
	n := 8 * len(c.variant)
	if c.tree != nil {
		n += 16*len(c.tree.nodes) + 24*len(c.tree.stream) + len(c.tree.simple)
	}
	for _, ds := range [][]dim{c.inv, c.vari} {
		for i := range ds {
			d := &ds[i]
			n += 8*(len(d.rows)+len(d.sums)) + 4*(len(d.table)+len(d.starts4)+len(d.top4)) + 16*len(d.starts6)
		}
	}
	return n
}

// Summary writes a human-readable description of the compiled ruleset, as
// `statewall check` prints it.
func (rs *Ruleset) Summary(w io.Writer) {
	cfg := rs.cfg
	fmt.Fprintf(w, "%s: generation %d, %d rules, %d notrack rules, %d ports, existing connections: %s\n",
		cfg.File, rs.Generation, len(cfg.Rules), len(cfg.NoTrack), len(cfg.Ports), cfg.Reload.Existing)
	for i, p := range cfg.Ports {
		fmt.Fprintf(w, "  port %d %s device=%q role=%s peer=%s queues=%d policy=%s\n",
			i, p.Name, p.Device, orDash(p.Role), orDash(p.Peer), p.Queues, Verdict(cfg.Policy.For(cfg.Ports, i)))
	}
	fmt.Fprintf(w, "  policy forward=%s log=%v\n", Verdict(cfg.Policy.Forward), cfg.Policy.Log)
	var fields []string
	for _, ds := range [][]dim{rs.filter.inv, rs.filter.vari} {
		for i := range ds {
			fields = append(fields, fmt.Sprintf("%s:%d", fieldNames[ds[i].f], ds[i].nrows(rs.filter.words)))
		}
	}
	fmt.Fprintf(w, "  classifier: %d-word bit vectors, fields (rows) %s, %d bytes\n",
		rs.filter.words, strings.Join(fields, " "), rs.MemoryBytes())
	if t := rs.filter.tree; t != nil {
		simple := len(cfg.Rules) - rs.filter.rowRules
		fmt.Fprintf(w, "  decision tree: %d rules as %d boxes, %d nodes, %d candidate entries (%.1f per box); bit vectors: %d rules\n",
			simple, t.boxes, len(t.nodes), t.cands, float64(t.cands)/float64(max(t.boxes, 1)), rs.filter.rowRules)
	} else if len(cfg.Rules) > 0 {
		fmt.Fprintf(w, "  decision tree: none (rules overlap too much); bit vectors: %d rules\n", len(cfg.Rules))
	}
	for i := range cfg.NoTrack {
		r := &cfg.NoTrack[i]
		fmt.Fprintf(w, "  notrack %3d %-20s %s\n", i, r.Name, cfg.Describe(&r.Match))
	}
	for i, r := range rs.info {
		log := ""
		if r.Log {
			log = " log"
		}
		fmt.Fprintf(w, "  rule %4d %-20s %-6s%s %s\n", i, r.Name, r.Verdict, log, r.Match)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
