package config

import (
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strings"
	"time"
)

type rawConfig struct {
	Dataplane    rawDataplane      `toml:"dataplane"`
	Port         []rawPort         `toml:"port"`
	Conntrack    rawConntrack      `toml:"conntrack"`
	ALG          rawALG            `toml:"alg"`
	Expectations rawExpectations   `toml:"expectations"`
	Metrics      rawMetrics        `toml:"metrics"`
	Control      rawControl        `toml:"control"`
	Reload       rawReload         `toml:"reload"`
	Log          rawLog            `toml:"log"`
	Reject       rawReject         `toml:"reject"`
	Sets         map[string]rawSet `toml:"sets"`
	Policy       rawPolicy         `toml:"policy"`
	Rule         []rawRule         `toml:"rule"`
	NoTrack      []rawRule         `toml:"notrack"`
}

type rawDataplane struct {
	Workers    any `toml:"workers"`
	Lcores     any `toml:"lcores"`
	Burst      any `toml:"burst"`
	FlowMemory any `toml:"flow_memory"`
	Hugepages  any `toml:"hugepages"`
	EALArgs    any `toml:"eal_args"`
	IPv4Sum    any `toml:"ipv4_checksum"`
	Offload    any `toml:"checksum_offload"`
}

type rawPort struct {
	Name   any `toml:"name"`
	Device any `toml:"device"`
	Role   any `toml:"role"`
	Peer   any `toml:"peer"`
	Queues any `toml:"queues"`
}

type rawConntrack struct {
	TCPLoose     any         `toml:"tcp_loose"`
	TCPBeLiberal any         `toml:"tcp_be_liberal"`
	VLANZones    any         `toml:"vlan_zones"`
	Checksum     any         `toml:"checksum"`
	MaxFlows     any         `toml:"max_flows"`
	Timeouts     rawTimeouts `toml:"timeouts"`
}

type rawTimeouts struct {
	TCPSynSent        any `toml:"tcp_syn_sent"`
	TCPSynRecv        any `toml:"tcp_syn_recv"`
	TCPEstablished    any `toml:"tcp_established"`
	TCPFinWait        any `toml:"tcp_fin_wait"`
	TCPCloseWait      any `toml:"tcp_close_wait"`
	TCPLastAck        any `toml:"tcp_last_ack"`
	TCPTimeWait       any `toml:"tcp_time_wait"`
	TCPClose          any `toml:"tcp_close"`
	TCPRetrans        any `toml:"tcp_retrans"`
	TCPUnacknowledged any `toml:"tcp_unacknowledged"`
	UDP               any `toml:"udp"`
	UDPStream         any `toml:"udp_stream"`
	ICMP              any `toml:"icmp"`
	Generic           any `toml:"generic"`
}

type rawALG struct {
	FTP rawFTP `toml:"ftp"`
}

type rawFTP struct {
	Enabled       any `toml:"enabled"`
	Ports         any `toml:"ports"`
	MaxExpected   any `toml:"max_expected"`
	ExpectTimeout any `toml:"expect_timeout"`
}

type rawExpectations struct {
	Max any `toml:"max"`
}

type rawMetrics struct {
	Listen any `toml:"listen"`
}

type rawControl struct {
	Socket any `toml:"socket"`
	Mode   any `toml:"mode"`
}

type rawReload struct {
	Existing any `toml:"existing"`
	Watch    any `toml:"watch"`
}

type rawLog struct {
	Level  any `toml:"level"`
	Format any `toml:"format"`
}

type rawReject struct {
	Rate  any `toml:"rate"`
	Burst any `toml:"burst"`
}

type rawSet struct {
	Addresses any `toml:"addresses"`
	Ports     any `toml:"ports"`
}

type rawPolicy struct {
	Forward any            `toml:"forward"`
	Log     any            `toml:"log"`
	InRole  map[string]any `toml:"in_role"`
}

type rawRule struct {
	Name        any `toml:"name"`
	Action      any `toml:"action"`
	Log         any `toml:"log"`
	Comment     any `toml:"comment"`
	CTState     any `toml:"ct_state"`
	CTDirection any `toml:"ct_direction"`
	Proto       any `toml:"proto"`
	Src         any `toml:"src"`
	Dst         any `toml:"dst"`
	SPort       any `toml:"sport"`
	DPort       any `toml:"dport"`
	InPort      any `toml:"in_port"`
	OutPort     any `toml:"out_port"`
	InRole      any `toml:"in_role"`
	OutRole     any `toml:"out_role"`
	ICMPType    any `toml:"icmp_type"`
	ICMPCode    any `toml:"icmp_code"`
	TCPFlags    any `toml:"tcp_flags"`
	VLAN        any `toml:"vlan"`
}

// MaxTimeout is the longest conntrack timeout: the trackers' clock counts
// milliseconds in 32 bits and compares deadlines within 2^31 ms.
const MaxTimeout = 24 * 24 * time.Hour

// Linux's default conntrack timeouts.
const (
	DefaultTCPSynSent        = 120 * time.Second
	DefaultTCPSynRecv        = 60 * time.Second
	DefaultTCPEstablished    = 5 * 24 * time.Hour
	DefaultTCPFinWait        = 120 * time.Second
	DefaultTCPCloseWait      = 60 * time.Second
	DefaultTCPLastAck        = 30 * time.Second
	DefaultTCPTimeWait       = 120 * time.Second
	DefaultTCPClose          = 10 * time.Second
	DefaultTCPRetrans        = 300 * time.Second
	DefaultTCPUnacknowledged = 300 * time.Second
	DefaultUDP               = 30 * time.Second
	DefaultUDPStream         = 120 * time.Second
	DefaultICMP              = 30 * time.Second
	DefaultGeneric           = 600 * time.Second
)

// Other defaults.
const (
	DefaultBurst         = 32
	DefaultFlowMemory    = 256 << 20
	DefaultExpectations  = 4096
	DefaultMetricsListen = "127.0.0.1:9469"
	DefaultControlSocket = "/run/statewall/control.sock"
	DefaultControlMode   = 0o600
	DefaultRejectRate    = 100
	DefaultRejectBurst   = 200
	DefaultFTPExpectTime = 300 * time.Second
)

var identRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)

func (d *decoder) ident(key string, v any, what string) string {
	s := d.str(key, v, "")
	switch {
	case v == nil:
		d.errf(key, "missing %s", what)
	case s == "" && d.ok(key):
		d.errf(key, "empty %s", what)
	case s != "" && !identRE.MatchString(s):
		d.errf(key, "invalid %s %q (letters, digits, '_', '.', '-')", what, s)
	}
	return s
}

// ok reports whether no error was recorded for key yet.
func (d *decoder) ok(key string) bool {
	for _, e := range d.errs {
		if e.Key == key {
			return false
		}
	}
	return true
}

func (d *decoder) build(raw *rawConfig) *Config {
	cfg := &Config{}
	d.dataplane(&cfg.Dataplane, &raw.Dataplane)
	d.ports(cfg, raw.Port)
	d.conntrack(&cfg.Conntrack, &raw.Conntrack)

	f := &raw.ALG.FTP
	cfg.FTP = FTP{
		Enabled:       d.boolean("alg.ftp.enabled", f.Enabled, true),
		MaxExpected:   int(d.integer("alg.ftp.max_expected", f.MaxExpected, 1, 1, 1<<16)),
		ExpectTimeout: d.duration("alg.ftp.expect_timeout", f.ExpectTimeout, DefaultFTPExpectTime),
	}
	if f.Ports == nil {
		cfg.FTP.Ports = []uint16{21}
	}
	for i, e := range list(f.Ports) {
		if p := d.integer(elemKey("alg.ftp.ports", f.Ports, i), e, -1, 1, 65535); p > 0 {
			cfg.FTP.Ports = append(cfg.FTP.Ports, uint16(p))
		}
	}
	cfg.Expectations.Max = int(d.integer("expectations.max", raw.Expectations.Max, DefaultExpectations, 1, 1<<24))
	cfg.Metrics.Listen = d.str("metrics.listen", raw.Metrics.Listen, DefaultMetricsListen)
	if l := cfg.Metrics.Listen; l != "" {
		if _, err := netip.ParseAddrPort(l); err != nil {
			d.errf("metrics.listen", "invalid address %q (want ip:port, e.g. %q)", l, DefaultMetricsListen)
		}
	}
	cfg.Control.Socket = d.str("control.socket", raw.Control.Socket, DefaultControlSocket)
	cfg.Control.Mode = d.fileMode("control.mode", raw.Control.Mode, DefaultControlMode)
	if d.oneOf("reload.existing", raw.Reload.Existing, "recheck", "recheck", "keep") == "keep" {
		cfg.Reload.Existing = ExistingKeep
	}
	cfg.Reload.Watch = d.boolean("reload.watch", raw.Reload.Watch, true)
	cfg.Log.Level = d.oneOf("log.level", raw.Log.Level, "info", "debug", "info", "warn", "error")
	cfg.Log.Format = d.oneOf("log.format", raw.Log.Format, "text", "text", "json")
	cfg.Reject.Rate = int(d.integer("reject.rate", raw.Reject.Rate, DefaultRejectRate, 0, 1e7))
	cfg.Reject.Burst = int(d.integer("reject.burst", raw.Reject.Burst, DefaultRejectBurst, 1, 1e7))

	d.sets(cfg, raw.Sets)
	d.policy(cfg, &raw.Policy)
	names := map[string]int{}
	cfg.Rules = d.rules(cfg, "rule", raw.Rule, false, names)
	cfg.NoTrack = d.rules(cfg, "notrack", raw.NoTrack, true, names)
	if len(d.errs) == 0 {
		d.shadowed("rule", cfg.Rules)
		d.shadowed("notrack", cfg.NoTrack)
	}
	return cfg
}

func (d *decoder) dataplane(dp *Dataplane, r *rawDataplane) {
	for i, e := range list(r.Lcores) {
		if c := d.integer(elemKey("dataplane.lcores", r.Lcores, i), e, -1, 0, 1023); c >= 0 {
			dp.Lcores = append(dp.Lcores, int(c))
		}
	}
	def := int64(1)
	if len(dp.Lcores) > 0 {
		def = int64(len(dp.Lcores))
	}
	dp.Workers = int(d.integer("dataplane.workers", r.Workers, def, 1, 1024))
	if len(dp.Lcores) > 0 && dp.Workers != len(dp.Lcores) {
		d.errf("dataplane.workers", "%d workers but %d lcores listed", dp.Workers, len(dp.Lcores))
	}
	dp.Burst = int(d.integer("dataplane.burst", r.Burst, DefaultBurst, 1, 512))
	dp.FlowMemory = d.size("dataplane.flow_memory", r.FlowMemory, DefaultFlowMemory)
	dp.Hugepages = d.boolean("dataplane.hugepages", r.Hugepages, true)
	dp.EALArgs = d.strList("dataplane.eal_args", r.EALArgs)
	dp.IPv4ChecksumZeroOK = d.oneOf("dataplane.ipv4_checksum", r.IPv4Sum, "verify", "verify", "zero-ok") == "zero-ok"
	dp.ChecksumOffload = d.boolean("dataplane.checksum_offload", r.Offload, true)
}

func (d *decoder) ports(cfg *Config, raw []rawPort) {
	byName := map[string]int{}
	for i, r := range raw {
		key := fmt.Sprintf("port[%d]", i)
		p := Port{
			Name:   d.ident(key+".name", r.Name, "port name"),
			Device: d.str(key+".device", r.Device, ""),
			Role:   d.str(key+".role", r.Role, ""),
			Peer:   d.str(key+".peer", r.Peer, ""),
			Queues: int(d.integer(key+".queues", r.Queues, 1, 1, 256)),
		}
		if r.Device == nil {
			d.errf(key+".device", "missing device (PCI address or DPDK devargs)")
		}
		if p.Role != "" && !identRE.MatchString(p.Role) {
			d.errf(key+".role", "invalid role %q", p.Role)
		}
		if j, dup := byName[p.Name]; dup && p.Name != "" {
			d.errf(key+".name", "duplicate port name %q (first at line %d)", p.Name, d.pos.line(fmt.Sprintf("port[%d]", j)))
		} else {
			byName[p.Name] = i
		}
		cfg.Ports = append(cfg.Ports, p)
	}
	for i, p := range cfg.Ports {
		if p.Peer == "" {
			continue
		}
		key := fmt.Sprintf("port[%d].peer", i)
		j, ok := byName[p.Peer]
		switch {
		case !ok:
			d.errf(key, "unknown port %q", p.Peer)
		case j == i:
			d.errf(key, "port %q is its own peer", p.Name)
		case cfg.Ports[j].Peer != p.Name:
			d.errf(key, "peer %q does not name %q as its peer", p.Peer, p.Name)
		}
	}
}

func (d *decoder) conntrack(ct *Conntrack, r *rawConntrack) {
	ct.TCPLoose = d.boolean("conntrack.tcp_loose", r.TCPLoose, true)
	ct.TCPBeLiberal = d.boolean("conntrack.tcp_be_liberal", r.TCPBeLiberal, false)
	ct.VLANZones = d.boolean("conntrack.vlan_zones", r.VLANZones, false)
	ct.Checksum = d.boolean("conntrack.checksum", r.Checksum, false)
	ct.MaxFlows = uint64(d.integer("conntrack.max_flows", r.MaxFlows, 0, 0, 1<<32))
	t, rt := &ct.Timeouts, &r.Timeouts
	for _, f := range []struct {
		name string
		dst  *time.Duration
		v    any
		def  time.Duration
	}{
		{"tcp_syn_sent", &t.TCPSynSent, rt.TCPSynSent, DefaultTCPSynSent},
		{"tcp_syn_recv", &t.TCPSynRecv, rt.TCPSynRecv, DefaultTCPSynRecv},
		{"tcp_established", &t.TCPEstablished, rt.TCPEstablished, DefaultTCPEstablished},
		{"tcp_fin_wait", &t.TCPFinWait, rt.TCPFinWait, DefaultTCPFinWait},
		{"tcp_close_wait", &t.TCPCloseWait, rt.TCPCloseWait, DefaultTCPCloseWait},
		{"tcp_last_ack", &t.TCPLastAck, rt.TCPLastAck, DefaultTCPLastAck},
		{"tcp_time_wait", &t.TCPTimeWait, rt.TCPTimeWait, DefaultTCPTimeWait},
		{"tcp_close", &t.TCPClose, rt.TCPClose, DefaultTCPClose},
		{"tcp_retrans", &t.TCPRetrans, rt.TCPRetrans, DefaultTCPRetrans},
		{"tcp_unacknowledged", &t.TCPUnacknowledged, rt.TCPUnacknowledged, DefaultTCPUnacknowledged},
		{"udp", &t.UDP, rt.UDP, DefaultUDP},
		{"udp_stream", &t.UDPStream, rt.UDPStream, DefaultUDPStream},
		{"icmp", &t.ICMP, rt.ICMP, DefaultICMP},
		{"generic", &t.Generic, rt.Generic, DefaultGeneric},
	} {
		key := "conntrack.timeouts." + f.name
		*f.dst = d.duration(key, f.v, f.def)
		if *f.dst < time.Second && f.v != nil && d.ok(key) {
			d.errf(key, "timeout %v is shorter than 1s", *f.dst)
		}
		if *f.dst > MaxTimeout && d.ok(key) {
			d.errf(key, "timeout is longer than 24d, the longest the trackers' millisecond clock allows")
		}
	}
}

func (d *decoder) sets(cfg *Config, raw map[string]rawSet) {
	cfg.AddrSets = map[string]AddrSet{}
	cfg.PortSets = map[string]PortSet{}
	names := make([]string, 0, len(raw))
	for n := range raw {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		s := raw[n]
		key := "sets." + n
		if !identRE.MatchString(n) {
			d.errf(key, "invalid set name %q", n)
			continue
		}
		switch {
		case s.Addresses != nil && s.Ports != nil:
			d.errf(key, "a set holds addresses or ports, not both")
		case s.Addresses != nil:
			ps := d.prefixes(cfg, key+".addresses", s.Addresses, false)
			if len(ps) == 0 && d.ok(key+".addresses") {
				d.errf(key+".addresses", "empty set")
			}
			cfg.AddrSets[n] = AddrSet{Prefixes: ps}
		case s.Ports != nil:
			rs := d.portRanges(cfg, key+".ports", s.Ports, false)
			if len(rs) == 0 && d.ok(key+".ports") {
				d.errf(key+".ports", "empty set")
			}
			cfg.PortSets[n] = PortSet{Ranges: rs}
		default:
			d.errf(key, "a set needs addresses or ports")
		}
	}
}

func (d *decoder) action(key string, v any, def Action) Action {
	switch d.oneOf(key, v, def.String(), "accept", "drop", "reject") {
	case "accept":
		return Accept
	case "drop":
		return Drop
	case "reject":
		return Reject
	}
	return def
}

func (d *decoder) policy(cfg *Config, r *rawPolicy) {
	cfg.Policy.Forward = d.action("policy.forward", r.Forward, Drop)
	cfg.Policy.Log = d.boolean("policy.log", r.Log, false)
	cfg.Policy.InRole = map[string]Action{}
	for role, v := range r.InRole {
		key := "policy.in_role." + role
		if !cfg.hasRole(role) {
			d.errf(key, "no port has role %q", role)
			continue
		}
		cfg.Policy.InRole[role] = d.action(key, v, cfg.Policy.Forward)
	}
}

func (c *Config) hasRole(role string) bool {
	for _, p := range c.Ports {
		if p.Role == role {
			return true
		}
	}
	return false
}

func (d *decoder) rules(cfg *Config, section string, raw []rawRule, notrack bool, names map[string]int) []Rule {
	out := make([]Rule, 0, len(raw))
	for i := range raw {
		r := &raw[i]
		key := fmt.Sprintf("%s[%d]", section, i)
		rule := Rule{Name: d.ident(key+".name", r.Name, "rule name"), Line: d.pos.line(key)}
		if rule.Name != "" {
			if line, dup := names[rule.Name]; dup {
				d.errf(key+".name", "duplicate rule name %q (first at line %d)", rule.Name, line)
			} else {
				names[rule.Name] = rule.Line
			}
		}
		d.str(key+".comment", r.Comment, "")
		if notrack {
			for _, f := range []struct {
				name string
				v    any
			}{{"action", r.Action}, {"log", r.Log}, {"ct_state", r.CTState}, {"ct_direction", r.CTDirection}} {
				if f.v != nil {
					d.errf(key+"."+f.name, "not allowed in a notrack rule (notrack rules run before tracking)")
				}
			}
		} else {
			if r.Action == nil {
				d.errf(key+".action", "missing action (accept, drop or reject)")
			}
			rule.Action = d.action(key+".action", r.Action, Drop)
			rule.Log = d.boolean(key+".log", r.Log, false)
		}
		rule.Match = d.match(cfg, key, r)
		out = append(out, rule)
	}
	return out
}

// String renders the match in config syntax (input ports as "#index").
func (m *Match) String() string { return m.describe(nil) }

// Describe renders a match in config syntax with the file's port names.
func (c *Config) Describe(m *Match) string { return m.describe(c.Ports) }

func (m *Match) describe(ports []Port) string {
	var parts []string
	add := func(k, v string) { parts = append(parts, k+"="+v) }
	if m.States != 0 {
		var ss []string
		for s := 0; s < 8; s++ {
			if m.States&(1<<s) != 0 {
				ss = append(ss, stateName(s))
			}
		}
		add("ct_state", strings.Join(ss, ","))
	}
	switch m.Direction {
	case DirOriginal:
		add("ct_direction", "original")
	case DirReply:
		add("ct_direction", "reply")
	}
	if len(m.Protos) > 0 {
		ps := make([]string, len(m.Protos))
		for i, p := range m.Protos {
			ps[i] = protoName(p)
		}
		add("proto", strings.Join(ps, ","))
	}
	if len(m.Src) > 0 {
		add("src", prefixList(m.Src))
	}
	if len(m.Dst) > 0 {
		add("dst", prefixList(m.Dst))
	}
	if len(m.SrcPorts) > 0 {
		add("sport", rangeList(m.SrcPorts))
	}
	if len(m.DstPorts) > 0 {
		add("dport", rangeList(m.DstPorts))
	}
	if len(m.InPorts) > 0 {
		ps := make([]string, len(m.InPorts))
		for i, p := range m.InPorts {
			ps[i] = fmt.Sprintf("#%d", p)
			if int(p) < len(ports) {
				ps[i] = ports[p].Name
			}
		}
		add("in_port", strings.Join(ps, ","))
	}
	if len(m.ICMP) > 0 {
		var ss []string
		for _, r := range m.ICMP {
			if r.Hi-r.Lo == 255 {
				ss = append(ss, fmt.Sprint(r.Lo>>8))
			} else {
				ss = append(ss, fmt.Sprintf("%d/%d", r.Lo>>8, r.Lo&255))
			}
		}
		add("icmp", strings.Join(ss, ","))
	}
	if m.TCPFlagsMask != 0 {
		add("tcp_flags", flagsString(m.TCPFlagsMask, m.TCPFlagsValue))
	}
	if len(m.VLAN) > 0 {
		add("vlan", rangeList(m.VLAN))
	}
	if len(parts) == 0 {
		return "any"
	}
	return strings.Join(parts, " ")
}

func prefixList(ps []netip.Prefix) string {
	const max = 4
	ss := make([]string, 0, max+1)
	for i, p := range ps {
		if i == max {
			ss = append(ss, fmt.Sprintf("...(%d)", len(ps)))
			break
		}
		ss = append(ss, p.String())
	}
	return strings.Join(ss, ",")
}

func rangeList(rs []Range) string {
	ss := make([]string, len(rs))
	for i, r := range rs {
		if r.Lo == r.Hi {
			ss[i] = fmt.Sprint(r.Lo)
		} else {
			ss[i] = fmt.Sprintf("%d-%d", r.Lo, r.Hi)
		}
	}
	return strings.Join(ss, ",")
}
