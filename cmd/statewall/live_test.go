package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/netip"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/statewall/statewall/dataplane/control"
	"github.com/statewall/statewall/dataplane/metrics"
	"github.com/statewall/statewall/dataplane/port"
)

// fakeEngine serves the control API from fixed data.
type fakeEngine struct {
	mu        sync.Mutex
	entries   []control.Entry
	reloadErr error
}

func (f *fakeEngine) List(flt control.Filter, chunk func([]control.Entry) error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.entries {
		if flt.Match(&f.entries[i]) {
			if err := chunk(f.entries[i : i+1]); err != nil {
				return err
			}
		}
	}
	return nil
}

func (f *fakeEngine) Flush(flt control.Filter) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	kept := f.entries[:0]
	for _, e := range f.entries {
		if !flt.Match(&e) {
			kept = append(kept, e)
		}
	}
	n := len(f.entries) - len(kept)
	f.entries = kept
	return n, nil
}

func (f *fakeEngine) Count() int { f.mu.Lock(); defer f.mu.Unlock(); return len(f.entries) }

func (f *fakeEngine) Workers() int { return 1 }

func (f *fakeEngine) WorkerCounters(_ int, dst *metrics.Counters) {
	*dst = metrics.Counters{Packets: 1000, Bytes: 64000, RulesGeneration: 7,
		RulePackets: []uint64{900, 100}, RuleBytes: []uint64{57600, 6400}}
	dst.ByVerdict[metrics.VerdictAccept] = 900
	dst.ByVerdict[metrics.VerdictDrop] = 100
}

func (f *fakeEngine) Ports() []metrics.PortInfo {
	return []metrics.PortInfo{{Name: "net_ring0", Up: true, Stats: port.Stats{RxPackets: 1000, RxMissed: 2}, ChecksumOffloads: []string{"ipv4", "tcp"}}}
}

func (f *fakeEngine) WorkerCPU(i int) int { return i + 2 }

func (f *fakeEngine) FlowTables() []metrics.FlowTableStats {
	return []metrics.FlowTableStats{{Worker: 0, Capacity: 1000, Protos: []metrics.ProtoStats{{Proto: "tcp", Entries: 250}}}}
}

func (f *fakeEngine) Expectations() metrics.ExpectationStats { return metrics.ExpectationStats{} }

func (f *fakeEngine) Rules() metrics.Ruleset {
	return metrics.Ruleset{Generation: 7, Rules: []metrics.RuleInfo{
		{Name: "web", Verdict: "accept", Match: "tcp dport 80 ct state new"}, {Verdict: "drop"}}}
}

// The engine is both a Reloader and a Source; give them distinct types.
type reloader struct{ *fakeEngine }

func (r reloader) Reload() error { r.mu.Lock(); defer r.mu.Unlock(); return r.reloadErr }

type source struct{ *fakeEngine }

func (s source) Reload() metrics.ReloadStats { return s.fakeEngine.reloadStats() }

func (f *fakeEngine) reloadStats() metrics.ReloadStats {
	return metrics.ReloadStats{Successes: 2, Generation: 7, LastSuccess: time.Unix(1700000000, 0)}
}

func entry(proto control.Proto, src, dst string, state string, flags control.Flags) control.Entry {
	s, d := netip.MustParseAddrPort(src), netip.MustParseAddrPort(dst)
	return control.Entry{Proto: proto, State: state, Timeout: 431999, Flags: flags,
		Original: control.Tuple{Src: s, Dst: d}, Reply: control.Tuple{Src: d, Dst: s}}
}

func start(t *testing.T, eng *fakeEngine) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "control.sock")
	s, err := control.Listen(control.Config{Path: path, Source: source{eng}, Conntrack: eng, Reloader: reloader{eng}})
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve()
	t.Cleanup(func() { s.Close() })
	return path
}

func newEngine() *fakeEngine {
	return &fakeEngine{entries: []control.Entry{
		entry(control.ProtoTCP, "198.18.0.1:40000", "198.18.0.2:80", "ESTABLISHED", control.FlagAssured),
		entry(control.ProtoTCP, "198.18.0.3:40001", "198.18.0.2:443", "SYN_SENT", control.FlagUnreplied),
		entry(control.ProtoUDP, "198.18.0.1:5000", "198.18.0.53:53", "", 0),
	}}
}

func runCLI(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

func TestConntrackList(t *testing.T) {
	path := start(t, newEngine())
	code, out, errs := runCLI("-S", path, "conntrack", "list", "-p", "tcp", "--dst", "198.18.0.2")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	want := "tcp      6 431999 ESTABLISHED src=198.18.0.1 dst=198.18.0.2 sport=40000 dport=80 src=198.18.0.2 dst=198.18.0.1 sport=80 dport=40000 [ASSURED] mark=0 use=1\n" +
		"tcp      6 431999 SYN_SENT src=198.18.0.3 dst=198.18.0.2 sport=40001 dport=443 [UNREPLIED] src=198.18.0.2 dst=198.18.0.3 sport=443 dport=40001 mark=0 use=1\n"
	if out != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", out, want)
	}
	if !strings.Contains(errs, "2 flow entries have been shown") {
		t.Errorf("stderr: %s", errs)
	}

	code, out, _ = runCLI("conntrack", "list", "--socket", path, "-s", "established", "-o", "json")
	var e control.Entry
	if code != 0 || strings.Count(out, "\n") != 1 || json.Unmarshal([]byte(out), &e) != nil || e.Original.Dst.Port() != 80 {
		t.Errorf("json listing (exit %d): %s", code, out)
	}
}

func TestConntrackFlushCount(t *testing.T) {
	path := start(t, newEngine())
	if code, out, _ := runCLI("-S", path, "conntrack", "count"); code != 0 || out != "3\n" {
		t.Errorf("count: %d %q", code, out)
	}
	if code, out, _ := runCLI("-S", path, "conntrack", "flush", "-p", "udp"); code != 0 || out != "1 flow entries have been deleted.\n" {
		t.Errorf("flush udp: %d %q", code, out)
	}
	if code, out, _ := runCLI("-S", path, "conntrack", "flush"); code != 0 || !strings.Contains(out, "emptied (2 flow entries deleted)") {
		t.Errorf("flush: %d %q", code, out)
	}
}

func TestRulesStatusReload(t *testing.T) {
	eng := newEngine()
	path := start(t, eng)
	code, out, errs := runCLI("-S", path, "rules")
	if code != 0 || !strings.Contains(out, "ruleset generation 7") ||
		!regexpMatch(`1\s+web\s+accept\s+900\s+56\.2Ki\s+tcp dport 80 ct state new`, out) ||
		!regexpMatch(`2\s+policy\s+drop\s+100\s+6\.2Ki\s+-`, out) {
		t.Errorf("rules (exit %d, %s):\n%s", code, errs, out)
	}
	code, out, errs = runCLI("-S", path, "status", "-i", "10ms")
	if code != 0 || !regexpMatch(`net_ring0\s+yes.*\s+ipv4,tcp\s`, out) || !regexpMatch(`\n0\s+2\s+0\s+0\.0\s+0\s+1000\s+100\s+250\s+1000\s+25\.0%`, out) {
		t.Errorf("status (exit %d, %s):\n%s", code, errs, out)
	}
	if code, out, _ := runCLI("-S", path, "reload"); code != 0 || out != "reloaded: ruleset generation 7 in force\n" {
		t.Errorf("reload: %d %q", code, out)
	}
	eng.mu.Lock()
	eng.reloadErr = errors.New(`statewall.toml:3: rules[0].verdict: unknown verdict "acept"`)
	eng.mu.Unlock()
	code, out, errs = runCLI("-S", path, "reload")
	if code != 1 || out != "" || errs != "statewall reload: reload failed, the previous ruleset stays in force: statewall.toml:3: rules[0].verdict: unknown verdict \"acept\"\n" {
		t.Errorf("failed reload: %d %q %q", code, out, errs)
	}
}

func TestUsageErrors(t *testing.T) {
	path := start(t, newEngine())
	cases := []struct {
		args []string
		code int
		msg  string
	}{
		{nil, 2, "usage: statewall"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"--bogus", "status"}, 2, "unknown flag --bogus"},
		{[]string{"-S"}, 2, "-S needs a path"},
		{[]string{"-S", path, "conntrack"}, 2, "usage: statewall conntrack"},
		{[]string{"-S", path, "conntrack", "purge"}, 2, `unknown subcommand "purge"`},
		{[]string{"-S", path, "conntrack", "list", "-p", "sctpx"}, 2, `unknown protocol "sctpx"`},
		{[]string{"-S", path, "conntrack", "list", "-s", "198.18.0.1"}, 2, "use --src 198.18.0.1"},
		{[]string{"-S", path, "conntrack", "list", "--dport", "0"}, 2, "--dport: bad port"},
		{[]string{"-S", path, "conntrack", "list", "-o", "yaml"}, 2, "want text or json"},
		{[]string{"-S", path, "rules", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"-S", filepath.Join(t.TempDir(), "no.sock"), "status"}, 1, "is statewalld running?"},
		{[]string{"check"}, 2, ""},
	}
	for _, tc := range cases {
		code, _, errs := runCLI(tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.msg) {
			t.Errorf("%q: exit %d, stderr %q; want %d and %q", tc.args, code, errs, tc.code, tc.msg)
		}
	}
	if code, out, _ := runCLI("help"); code != 0 || !strings.Contains(out, "conntrack list") {
		t.Errorf("help: %d %q", code, out)
	}
}

func regexpMatch(re, s string) bool { return regexp.MustCompile(re).MatchString(s) }
