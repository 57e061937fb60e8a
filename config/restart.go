package config

import "slices"

// restartOnly are the settings a running statewalld reads only at start,
// by key: the ports, the dataplane, table sizing and zones, the ALG and
// the expectation table, and the metrics, control and log settings. A
// reload applies the rest: the ruleset (rules, sets, notrack rules,
// policy), [reload], the conntrack timeouts and TCP switches,
// [conntrack] checksum and [reject].
var restartOnly = []struct {
	key  string
	same func(a, b *Config) bool
}{
	{"dataplane.workers", func(a, b *Config) bool { return a.Dataplane.Workers == b.Dataplane.Workers }},
	{"dataplane.lcores", func(a, b *Config) bool { return slices.Equal(a.Dataplane.Lcores, b.Dataplane.Lcores) }},
	{"dataplane.burst", func(a, b *Config) bool { return a.Dataplane.Burst == b.Dataplane.Burst }},
	{"dataplane.flow_memory", func(a, b *Config) bool { return a.Dataplane.FlowMemory == b.Dataplane.FlowMemory }},
	{"dataplane.hugepages", func(a, b *Config) bool { return a.Dataplane.Hugepages == b.Dataplane.Hugepages }},
	{"dataplane.eal_args", func(a, b *Config) bool { return slices.Equal(a.Dataplane.EALArgs, b.Dataplane.EALArgs) }},
	{"dataplane.ipv4_checksum", func(a, b *Config) bool {
		return a.Dataplane.IPv4ChecksumZeroOK == b.Dataplane.IPv4ChecksumZeroOK
	}},
	{"dataplane.checksum_offload", func(a, b *Config) bool { return a.Dataplane.ChecksumOffload == b.Dataplane.ChecksumOffload }},
	{"conntrack.vlan_zones", func(a, b *Config) bool { return a.Conntrack.VLANZones == b.Conntrack.VLANZones }},
	{"conntrack.max_flows", func(a, b *Config) bool { return a.Conntrack.MaxFlows == b.Conntrack.MaxFlows }},
	{"alg.ftp.enabled", func(a, b *Config) bool { return a.FTP.Enabled == b.FTP.Enabled }},
	{"alg.ftp.ports", func(a, b *Config) bool { return slices.Equal(a.FTP.Ports, b.FTP.Ports) }},
	{"alg.ftp.max_expected", func(a, b *Config) bool { return a.FTP.MaxExpected == b.FTP.MaxExpected }},
	{"alg.ftp.expect_timeout", func(a, b *Config) bool { return a.FTP.ExpectTimeout == b.FTP.ExpectTimeout }},
	{"expectations.max", func(a, b *Config) bool { return a.Expectations.Max == b.Expectations.Max }},
	{"metrics.listen", func(a, b *Config) bool { return a.Metrics.Listen == b.Metrics.Listen }},
	{"control.socket", func(a, b *Config) bool { return a.Control.Socket == b.Control.Socket }},
	{"control.mode", func(a, b *Config) bool { return a.Control.Mode == b.Control.Mode }},
	{"log.level", func(a, b *Config) bool { return a.Log.Level == b.Log.Level }},
	{"log.format", func(a, b *Config) bool { return a.Log.Format == b.Log.Format }},
}

// RestartNeeded lists what next changes of the running configuration
// that only a restart applies, as errors at next's file, line and key. A
// reload refuses a file with any, so that no change is silently ignored
// and the running ruleset stays.
func RestartNeeded(running, next *Config) Errors {
	var errs Errors
	if !slices.Equal(running.Ports, next.Ports) {
		// Rules match ports by index and role: a ruleset for another port
		// list would misread the running ports.
		errs = append(errs, &Error{File: next.File, Line: next.line("port"), Key: "port",
			Msg: "the [[port]] list differs from the running one; a reload cannot change ports (restart statewalld to apply it)"})
	}
	for _, s := range restartOnly {
		if !s.same(running, next) {
			errs = append(errs, &Error{File: next.File, Line: next.line(s.key), Key: s.key,
				Msg: "differs from the running value; a reload cannot change it (restart statewalld to apply it)"})
		}
	}
	slices.SortStableFunc(errs, func(a, b *Error) int { return a.Line - b.Line })
	return errs
}

// line is where key, or else the nearest table holding it, is set in the
// file (0 when neither is, or the configuration was not loaded from text).
func (c *Config) line(key string) int {
	if c.pos == nil {
		return 0
	}
	return c.pos.line(key)
}
