package reload

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/statewall/statewall/config"
	"github.com/statewall/statewall/config/rules"
	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/flowtable/ctstate"
)

const good1 = `
[[port]]
name = "lan"
device = "net_null0"
role = "inside"
peer = "wan"
[[port]]
name = "wan"
device = "net_null1"
role = "outside"
peer = "lan"
[[rule]]
name = "established"
ct_state = "ESTABLISHED,RELATED"
action = "accept"
[[rule]]
name = "web"
ct_state = "NEW"
proto = "tcp"
dport = 80
action = "accept"
`

const good2 = good1 + `
[[rule]]
name = "dns"
ct_state = "NEW"
proto = "udp"
dport = 53
action = "accept"
`

const bad = good1 + `
[[rule]]
name = "broken"
dst = "198.18.0.0/33"
action = "accept"
`

func write(t testing.TB, path, text string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func newController(t testing.TB, text string, opts Options) (*Controller, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fw.toml")
	write(t, path, text)
	opts.Path = path
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c, path
}

func TestReloadKeepsRulesetOnError(t *testing.T) {
	var logs bytes.Buffer
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c, path := newController(t, good1, Options{Poll: -1, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Now: func() time.Time { return now }})
	if c.Generation() != 1 || c.Successes() != 1 || c.Failures() != 0 || !c.LastSuccess().Equal(now) {
		t.Fatalf("after start: gen %d ok %d fail %d last %v", c.Generation(), c.Successes(), c.Failures(), c.LastSuccess())
	}
	write(t, path, good2)
	now = now.Add(time.Minute)
	if err := c.Reload(); err != nil {
		t.Fatal(err)
	}
	if c.Generation() != 2 || len(c.Ruleset().Rules()) != 3 || !c.LastSuccess().Equal(now) {
		t.Fatalf("after reload: gen %d rules %d", c.Generation(), len(c.Ruleset().Rules()))
	}
	write(t, path, bad)
	err := c.Reload()
	want := path + ":25: rule[2].dst: invalid prefix \"198.18.0.0/33\""
	if err == nil || err.Error() != want {
		t.Fatalf("bad reload error %v, want %s", err, want)
	}
	if c.Generation() != 2 || c.Failures() != 1 || c.LastError() == nil || len(c.Ruleset().Rules()) != 3 {
		t.Fatalf("after failure: gen %d fail %d lastErr %v", c.Generation(), c.Failures(), c.LastError())
	}
	if !strings.Contains(logs.String(), "rule[2].dst: invalid prefix") || !strings.Contains(logs.String(), "line=25") {
		t.Errorf("log lacks the position:\n%s", logs.String())
	}
	write(t, path, good1)
	if err := c.Reload(); err != nil || c.Generation() != 3 || c.LastError() != nil {
		t.Fatalf("recovery: %v gen %d", err, c.Generation())
	}
}

// TestReloadRefusesPortChanges checks that a file whose [[port]] list
// differs from the running one is refused with a clear error, and the
// running ruleset stays.
func TestReloadRefusesPortChanges(t *testing.T) {
	c, path := newController(t, good1, Options{Poll: -1})
	write(t, path, strings.Replace(good1, `role = "outside"`, `role = "dmz"`, 1))
	err := c.Reload()
	want := path + ":2: port: the [[port]] list differs from the running one; a reload cannot change ports (restart statewalld to apply it)"
	if err == nil || err.Error() != want {
		t.Fatalf("reload error %v, want %s", err, want)
	}
	if c.Generation() != 1 || c.Failures() != 1 {
		t.Fatalf("gen %d, failures %d: the running ruleset must stay", c.Generation(), c.Failures())
	}
}

func TestNewFailsOnBadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fw.toml")
	write(t, path, bad)
	if _, err := New(Options{Path: path}); err == nil {
		t.Fatal("New accepted a bad file")
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSignalAndWatch(t *testing.T) {
	sig := make(chan os.Signal, 1)
	c, path := newController(t, good1, Options{Signals: sig, Poll: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	// A file change is picked up by the poller.
	write(t, path, good2)
	waitFor(t, "file reload", func() bool { return c.Generation() == 2 })

	// Touching the file without changing it does not reload.
	later := time.Now().Add(time.Hour)
	os.Chtimes(path, later, later)
	time.Sleep(50 * time.Millisecond)
	if c.Generation() != 2 {
		t.Fatalf("unchanged content reloaded: gen %d", c.Generation())
	}

	// A broken file is reported once and the ruleset stays.
	write(t, path, bad)
	waitFor(t, "failed reload", func() bool { return c.Failures() == 1 })
	time.Sleep(50 * time.Millisecond)
	if c.Failures() != 1 || c.Generation() != 2 {
		t.Fatalf("failures %d gen %d", c.Failures(), c.Generation())
	}

	// SIGHUP reloads even unchanged content.
	write(t, path, good1)
	waitFor(t, "file reload", func() bool { return c.Generation() == 3 })
	sig <- syscall.SIGHUP
	waitFor(t, "sighup reload", func() bool { return c.Generation() == 4 })

	// [reload] watch = false stops the poller.
	write(t, path, good1+"\n[reload]\nwatch = false\n")
	sig <- syscall.SIGHUP
	waitFor(t, "sighup reload", func() bool { return !c.Ruleset().Config().Reload.Watch && len(sig) == 0 })
	time.Sleep(50 * time.Millisecond) // let a SIGHUP being handled finish
	gen := c.Generation()
	write(t, path, good2+"\n[reload]\nwatch = false\n")
	time.Sleep(50 * time.Millisecond)
	if c.Generation() != gen {
		t.Fatalf("watch=false still reloaded: gen %d, was %d", c.Generation(), gen)
	}
}

// randomConfig returns a config text of n random rules over the lab's
// address plan.
func randomConfig(r *rand.Rand, n int, keep bool) string {
	var b bytes.Buffer
	b.WriteString(good1[:strings.Index(good1, "[[rule]]")])
	if keep {
		b.WriteString("[reload]\nexisting = \"keep\"\n")
	}
	fmt.Fprintf(&b, "[policy]\nforward = %q\n", []string{"accept", "drop", "reject"}[r.IntN(3)])
	states := []string{"NEW", "ESTABLISHED", "RELATED", "INVALID", "UNTRACKED"}
	for i := 0; i < n; i++ {
		good := b.Len()
		fmt.Fprintf(&b, "[[rule]]\nname = \"r%d\"\naction = %q\n", i, []string{"accept", "drop", "reject"}[r.IntN(3)])
		if r.IntN(2) == 0 {
			fmt.Fprintf(&b, "ct_state = %q\n", states[r.IntN(5)])
		}
		proto := []string{"tcp", "udp", "icmp"}[r.IntN(3)]
		fmt.Fprintf(&b, "proto = %q\n", proto)
		if proto != "icmp" {
			lo := r.IntN(200)
			fmt.Fprintf(&b, "dport = \"%d-%d\"\n", lo, lo+r.IntN(30))
		} else if r.IntN(2) == 0 {
			fmt.Fprintf(&b, "icmp_type = %d\n", []int{0, 3, 8, 11}[r.IntN(4)])
		}
		if r.IntN(2) == 0 {
			fmt.Fprintf(&b, "dst = [\"198.18.%d.0/24\", \"fd00:%x::/32\"]\n", r.IntN(4), r.IntN(4))
		}
		if r.IntN(3) == 0 {
			fmt.Fprintf(&b, "in_role = %q\n", []string{"inside", "outside"}[r.IntN(2)])
		}
		if _, err := config.Parse("random.toml", b.Bytes()); err != nil {
			b.Truncate(good) // shadowed by an earlier rule: leave it out
		}
	}
	return b.String()
}

func randomPacket(r *rand.Rand, p *packet.Parsed) (ctstate.State, ctstate.Dir, uint16) {
	*p = packet.Parsed{}
	t := &p.Tuple
	t.Proto = []uint8{packet.ProtoTCP, packet.ProtoUDP, packet.ProtoICMP}[r.IntN(3)]
	if r.IntN(2) == 0 {
		t.Family = packet.FamilyIPv4
		t.Src = [16]byte{198, 18, byte(r.IntN(4)), byte(r.IntN(256))}
		t.Dst = [16]byte{198, 18, byte(r.IntN(5)), byte(r.IntN(256))}
	} else {
		t.Family = packet.FamilyIPv6
		t.Src[0], t.Dst[0] = 0xfd, 0xfd
		binary.BigEndian.PutUint16(t.Dst[2:], uint16(r.IntN(5)))
		t.Dst[15] = byte(r.IntN(256))
	}
	t.SrcPort, t.DstPort = uint16(1024+r.IntN(60000)), uint16(r.IntN(240))
	p.ICMP.Type = []uint8{0, 3, 8, 11}[r.IntN(4)]
	return ctstate.State(r.IntN(5)), ctstate.Dir(r.IntN(2)), uint16(r.IntN(2))
}

// TestReloadUnderTraffic swaps rulesets thousands of times while workers
// classify bursts: each worker loads the pointer once per burst, and every
// packet's verdict must equal the linear reference of the generation it
// was classified with; no packet goes unclassified.
func TestReloadUnderTraffic(t *testing.T) {
	reloads := 2000
	if testing.Short() {
		reloads = 200
	}
	r := rand.New(rand.NewPCG(1, 2))
	texts := make([]string, 8)
	for i := range texts {
		texts[i] = randomConfig(r, 5+r.IntN(60), i%4 == 3)
	}
	c, path := newController(t, texts[0], Options{Poll: -1})
	ptr := c.Pointer()

	const workers, burst = 1, 32
	stop := make(chan struct{})
	var wg sync.WaitGroup
	sent := make([]int, workers)
	classified := make([]int, workers)
	gens := make([]map[uint64]bool, workers)
	errs := make(chan string, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		gens[w] = map[uint64]bool{}
		go func(w int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 99))
			var ps [burst]packet.Parsed
			var sts [burst]ctstate.State
			var dirs [burst]ctstate.Dir
			var ins [burst]uint16
			var out [burst]rules.Match
			last := uint64(0)
			for {
				select {
				case <-stop:
					return
				default:
				}
				for i := range ps {
					sts[i], dirs[i], ins[i] = randomPacket(r, &ps[i])
				}
				sent[w] += burst
				rs := ptr.Load() // once per burst
				if rs.Generation < last {
					errs <- fmt.Sprintf("generation went back from %d to %d", last, rs.Generation)
					return
				}
				last = rs.Generation
				gens[w][rs.Generation] = true
				for i := range ps {
					out[i] = rs.Classify(&ps[i], sts[i], dirs[i], ins[i])
					classified[w]++
				}
				for i := range ps {
					if want := rs.ClassifyLinear(&ps[i], sts[i], dirs[i], ins[i]); out[i] != want {
						errs <- fmt.Sprintf("generation %d packet %+v: got %+v want %+v", rs.Generation, ps[i].Tuple, out[i], want)
						return
					}
				}
			}
		}(w)
	}
	for i := 1; i <= reloads; i++ {
		text := texts[i%len(texts)]
		if i%97 == 0 {
			text = bad
		}
		write(t, path, text)
		err := c.Reload()
		if (err != nil) != (i%97 == 0) {
			t.Fatalf("reload %d: %v", i, err)
		}
		if keep := c.Ruleset().KeepVerdicts; keep != strings.Contains(text, `existing = "keep"`) && err == nil {
			t.Fatalf("reload %d: KeepVerdicts %v", i, keep)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	total, seen := 0, map[uint64]bool{}
	for w := 0; w < workers; w++ {
		if sent[w] != classified[w] {
			t.Errorf("worker %d: %d packets sent, %d classified", w, sent[w], classified[w])
		}
		total += classified[w]
		for g := range gens[w] {
			seen[g] = true
		}
	}
	wantFail := uint64(reloads / 97)
	if c.Failures() != wantFail || c.Successes() != uint64(reloads)+1-wantFail {
		t.Errorf("successes %d failures %d", c.Successes(), c.Failures())
	}
	t.Logf("%d reloads, %d packets classified under %d distinct generations", reloads, total, len(seen))
	if len(seen) < 2 {
		t.Errorf("workers saw only %d generations", len(seen))
	}
}

// BenchmarkReload measures one reload of a 60-rule file: read, parse,
// validate, compile, publish.
func BenchmarkReload(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	c, path := newController(b, randomConfig(r, 60, false), Options{Poll: -1})
	_ = path
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := c.Reload(); err != nil {
			b.Fatal(err)
		}
	}
}

// TestReloadRefusesRestartOnlyChanges: a file that changes what only a
// restart applies is refused with the file, line and key of each such
// change, and the running ruleset stays; the conntrack timeouts, TCP
// switches, checksum and reject settings reload.
func TestReloadRefusesRestartOnlyChanges(t *testing.T) {
	c, path := newController(t, good1+"\n[dataplane]\nworkers = 2\n", Options{Poll: -1})
	write(t, path, good2+"\n[dataplane]\nworkers = 4\n\n[metrics]\nlisten = \"127.0.0.1:9999\"\n\n[alg.ftp]\nports = [21, 2121]\n")
	err := c.Reload()
	var es config.Errors
	if !errors.As(err, &es) {
		t.Fatalf("reload error %v, want config errors", err)
	}
	got := make([]string, len(es))
	for i, e := range es {
		got[i] = fmt.Sprintf("%d %s", e.Line, e.Key)
	}
	if want := []string{"31 dataplane.workers", "34 metrics.listen", "37 alg.ftp.ports"}; !slices.Equal(got, want) {
		t.Fatalf("refused keys %q, want %q (%v)", got, want, err)
	}
	if !strings.Contains(err.Error(), "fw.toml:31: dataplane.workers: differs from the running value; a reload cannot change it (restart statewalld to apply it)") {
		t.Fatalf("error text: %v", err)
	}
	if c.Generation() != 1 || c.Failures() != 1 {
		t.Fatalf("gen %d, failures %d: the running ruleset must stay", c.Generation(), c.Failures())
	}
	live := good2 + `
[dataplane]
workers = 2

[conntrack]
tcp_loose = false
tcp_be_liberal = true
checksum = true

[conntrack.timeouts]
udp = "5s"

[reject]
rate = 7
`
	write(t, path, live)
	if err := c.Reload(); err != nil {
		t.Fatalf("live settings refused: %v", err)
	}
	if cfg := c.Ruleset().Config(); c.Generation() != 2 || cfg.Conntrack.TCPLoose || cfg.Conntrack.Timeouts.UDP != 5*time.Second {
		t.Fatalf("gen %d, conntrack %+v", c.Generation(), cfg.Conntrack)
	}
}
