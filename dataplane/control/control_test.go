package control

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/statewall/statewall/dataplane/metrics"
	"github.com/statewall/statewall/dataplane/port"
)

// chunkSize is how many entries the fake engine hands over at a time, as
// the real one does per worker Do call.
const chunkSize = 1024

// genConntrack is a fake engine whose n entries are computed from their
// index, so a listing of millions holds at most one chunk.
type genConntrack struct {
	n int
}

func genEntry(i int, e *Entry) {
	a := netip.AddrFrom4([4]byte{198, 18, byte(i >> 16), byte(i >> 8)})
	b := netip.AddrFrom4([4]byte{198, 19, 0, byte(i)})
	sport := uint16(1024 + i%60000)
	*e = Entry{Proto: ProtoTCP, State: "ESTABLISHED", Timeout: 431999, Flags: FlagAssured, Worker: i % 4,
		Original: Tuple{Src: netip.AddrPortFrom(a, sport), Dst: netip.AddrPortFrom(b, 80)},
		Reply:    Tuple{Src: netip.AddrPortFrom(b, 80), Dst: netip.AddrPortFrom(a, sport)}}
	if i%2 == 1 {
		e.Proto, e.State, e.Flags = ProtoUDP, "", FlagUnreplied
		e.Original.Dst = netip.AddrPortFrom(b, 53)
		e.Reply.Src = netip.AddrPortFrom(b, 53)
	}
}

func (g *genConntrack) List(f Filter, chunk func([]Entry) error) error {
	buf := make([]Entry, 0, chunkSize)
	for i := 0; i < g.n; i++ {
		var e Entry
		genEntry(i, &e)
		if f.Match(&e) {
			buf = append(buf, e)
		}
		if len(buf) == cap(buf) || i == g.n-1 {
			if err := chunk(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	return nil
}

func (g *genConntrack) Flush(Filter) (int, error) { return 0, errors.New("read-only") }
func (g *genConntrack) Count() int                { return g.n }

// memConntrack is a fake engine over a slice, with a failure switch.
type memConntrack struct {
	mu      sync.Mutex
	entries []Entry
	listErr error
}

func (m *memConntrack) List(f Filter, chunk func([]Entry) error) error {
	m.mu.Lock()
	var out []Entry
	for i := range m.entries {
		if f.Match(&m.entries[i]) {
			out = append(out, m.entries[i])
		}
	}
	m.mu.Unlock()
	for len(out) > 0 {
		n := min(2, len(out))
		if err := chunk(out[:n]); err != nil {
			return err
		}
		out = out[n:]
	}
	return m.listErr
}

func (m *memConntrack) Flush(f Filter) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	kept := m.entries[:0]
	for _, e := range m.entries {
		if !f.Match(&e) {
			kept = append(kept, e)
		}
	}
	n := len(m.entries) - len(kept)
	m.entries = kept
	return n, nil
}

func (m *memConntrack) Count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}

type reloaderFunc func() error

func (f reloaderFunc) Reload() error { return f() }

// fakeSource counts up on every snapshot.
type fakeSource struct {
	mu    sync.Mutex
	calls uint64
	gen   uint64
}

func (f *fakeSource) Workers() int { return 2 }

func (f *fakeSource) WorkerCounters(i int, dst *metrics.Counters) {
	f.mu.Lock()
	f.calls++
	k := f.calls
	f.mu.Unlock()
	*dst = metrics.Counters{Packets: 1000 * k, Bytes: 100000 * k, RulesGeneration: f.gen,
		RulePackets: []uint64{uint64(i + 1), 10}, RuleBytes: []uint64{100, 1000}}
	dst.ByVerdict[metrics.VerdictAccept] = 900 * k
	dst.ByVerdict[metrics.VerdictDrop] = 100 * k
}

func (f *fakeSource) Ports() []metrics.PortInfo {
	f.mu.Lock()
	k := f.calls
	f.mu.Unlock()
	return []metrics.PortInfo{{Name: "p0", Up: true, Stats: port.Stats{RxPackets: 10 * k, RxBytes: 1000 * k, RxMissed: 1}}}
}

func (f *fakeSource) WorkerCPU(i int) int { return -1 }

func (f *fakeSource) FlowTables() []metrics.FlowTableStats {
	return []metrics.FlowTableStats{
		{Worker: 0, Capacity: 100, Protos: []metrics.ProtoStats{{Proto: "tcp", Entries: 20}, {Proto: "udp", Entries: 5}}},
		{Worker: 1, Capacity: 100},
	}
}

func (f *fakeSource) Expectations() metrics.ExpectationStats {
	return metrics.ExpectationStats{Current: 1}
}

func (f *fakeSource) Rules() metrics.Ruleset {
	return metrics.Ruleset{Generation: f.gen, Rules: []metrics.RuleInfo{{Name: "web", Verdict: "accept", Match: "tcp dport 80"}, {Verdict: "drop"}}}
}

func (f *fakeSource) Reload() metrics.ReloadStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return metrics.ReloadStats{Successes: 1, Generation: f.gen}
}

// startServer runs a server on a socket in a fresh directory.
func startServer(t *testing.T, cfg Config) (*Server, *Client) {
	t.Helper()
	if cfg.Path == "" {
		cfg.Path = filepath.Join(t.TempDir(), "run", "control.sock")
	}
	s, err := Listen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	c, err := Dial(cfg.Path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return s, c
}

func TestSocketModeAndRemoval(t *testing.T) {
	s, _ := startServer(t, Config{})
	fi, err := os.Lstat(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want socket 0600", fi.Mode())
	}
	if s.Owner() != uint32(os.Geteuid()) {
		t.Errorf("owner %d, want %d", s.Owner(), os.Geteuid())
	}
	if entries, _ := os.ReadDir(filepath.Dir(s.Path())); len(entries) != 1 {
		t.Errorf("socket directory holds %d files, want only the socket", len(entries))
	}
	// A second server on a live socket is refused.
	if _, err := Listen(Config{Path: s.Path()}); err == nil || !strings.Contains(err.Error(), "another server") {
		t.Errorf("second Listen: %v, want another server is listening", err)
	}
	s.Close()
	if _, err := os.Lstat(s.Path()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket still there after Close: %v", err)
	}
}

func TestStaleSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "control.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close() // a dead daemon's socket
	_, c := startServer(t, Config{Path: path, Conntrack: &memConntrack{}})
	if _, err := c.Count(context.Background()); err != nil {
		t.Fatal(err)
	}

	file := filepath.Join(t.TempDir(), "notasocket")
	os.WriteFile(file, []byte("x"), 0o644)
	if _, err := Listen(Config{Path: file}); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("Listen over a file: %v", err)
	}
}

func TestDialErrors(t *testing.T) {
	_, err := Dial(filepath.Join(t.TempDir(), "none.sock"))
	if err == nil || !strings.Contains(err.Error(), "is statewalld running") {
		t.Errorf("Dial of a missing socket: %v", err)
	}
}

// TestListStreamsMillion lists a million generated entries and checks that
// neither end ever holds more than a few chunks.
func TestListStreamsMillion(t *testing.T) {
	n := 1_000_000
	if testing.Short() {
		n = 100_000
	}
	_, c := startServer(t, Config{Conntrack: &genConntrack{n: n}})
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base, peak := ms.HeapAlloc, ms.HeapAlloc
	var want Entry
	start := time.Now()
	got, err := c.List(context.Background(), Filter{}, func(*Entry) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if got != n {
		t.Fatalf("listed %d entries, want %d", got, n)
	}
	elapsed := time.Since(start)
	// Second pass: verify every entry and sample the heap.
	k := 0
	_, err = c.List(context.Background(), Filter{}, func(e *Entry) error {
		genEntry(k, &want)
		if *e != want {
			return fmt.Errorf("entry %d = %+v, want %+v", k, *e, want)
		}
		k++
		if k%100_000 == 0 {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	grew := int64(peak) - int64(base)
	t.Logf("listed %d entries in %v (%.0f entries/s); heap grew at most %d KiB", n, elapsed, float64(n)/elapsed.Seconds(), grew>>10)
	if grew > 32<<20 {
		t.Errorf("heap grew by %d MiB while listing: the listing is being held in memory", grew>>20)
	}
}

func tcpEntry(src, dst string, sport, dport uint16, state string) Entry {
	a, b := netip.MustParseAddr(src), netip.MustParseAddr(dst)
	return Entry{Proto: ProtoTCP, State: state, Timeout: 100,
		Original: Tuple{Src: netip.AddrPortFrom(a, sport), Dst: netip.AddrPortFrom(b, dport)},
		Reply:    Tuple{Src: netip.AddrPortFrom(b, dport), Dst: netip.AddrPortFrom(a, sport)}}
}

func testEntries() []Entry {
	u := tcpEntry("198.18.0.9", "198.18.1.1", 5000, 53, "")
	u.Proto = ProtoUDP
	i := Entry{Proto: ProtoICMP, Timeout: 29,
		Original: Tuple{Src: netip.MustParseAddrPort("198.18.0.1:0"), Dst: netip.MustParseAddrPort("198.18.0.2:0"), Type: 8, ID: 7},
		Reply:    Tuple{Src: netip.MustParseAddrPort("198.18.0.2:0"), Dst: netip.MustParseAddrPort("198.18.0.1:0"), ID: 7}}
	return []Entry{
		tcpEntry("198.18.0.1", "198.18.0.2", 40000, 80, "ESTABLISHED"),
		tcpEntry("198.18.0.1", "198.18.0.2", 40001, 443, "TIME_WAIT"),
		tcpEntry("198.18.0.3", "198.18.0.2", 40002, 80, "SYN_SENT"),
		tcpEntry("fd00::1", "fd00::2", 40003, 80, "ESTABLISHED"),
		u, i,
	}
}

func TestListFilters(t *testing.T) {
	_, c := startServer(t, Config{Conntrack: &memConntrack{entries: testEntries()}})
	pfx := func(s string) netip.Prefix { p, _ := ParsePrefix(s); return p }
	cases := []struct {
		f    Filter
		want int
	}{
		{Filter{}, 6},
		{Filter{Proto: ProtoTCP}, 4},
		{Filter{Proto: ProtoUDP}, 1},
		{Filter{State: "ESTABLISHED"}, 2},
		{Filter{Proto: ProtoTCP, State: "ESTABLISHED", Src: pfx("198.18.0.1")}, 1},
		{Filter{Src: pfx("198.18.0.0/24")}, 5},
		{Filter{Src: pfx("fd00::/8")}, 1},
		{Filter{Dst: pfx("198.18.0.2")}, 4},
		{Filter{DstPort: 80}, 3},
		{Filter{SrcPort: 40001}, 1},
		{Filter{Proto: ProtoICMP}, 1},
	}
	for _, tc := range cases {
		n, err := c.List(context.Background(), tc.f, func(e *Entry) error {
			if !tc.f.Match(e) {
				return fmt.Errorf("entry %+v does not match", e)
			}
			return nil
		})
		if err != nil || n != tc.want {
			t.Errorf("filter %+v: %d entries, %v; want %d", tc.f, n, err, tc.want)
		}
	}
}

func TestListError(t *testing.T) {
	_, c := startServer(t, Config{Conntrack: &memConntrack{entries: testEntries(), listErr: errors.New("worker 3 stopped")}})
	n, err := c.List(context.Background(), Filter{}, func(*Entry) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "worker 3 stopped") {
		t.Errorf("List: %d, %v; want the engine's error", n, err)
	}
	// The client's own error stops the stream.
	stop := errors.New("enough")
	if _, err := c.List(context.Background(), Filter{}, func(*Entry) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("List: %v, want the callback's error", err)
	}
}

func TestBadFilterRefused(t *testing.T) {
	s, c := startServer(t, Config{Conntrack: &memConntrack{}})
	_ = s
	resp, err := c.do(context.Background(), "GET", pathConntrack, map[string][]string{"state": {"BOGUS"}})
	if err == nil {
		resp.Body.Close()
	}
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 400 || !strings.Contains(ae.Message, "unknown TCP state") {
		t.Errorf("bad state: %v", err)
	}
}

func TestFlushAndCount(t *testing.T) {
	ct := &memConntrack{entries: testEntries()}
	_, c := startServer(t, Config{Conntrack: ct})
	ctx := context.Background()
	if n, err := c.Count(ctx); err != nil || n != 6 {
		t.Fatalf("Count = %d, %v", n, err)
	}
	if n, err := c.Flush(ctx, Filter{Proto: ProtoTCP, DstPort: 80}); err != nil || n != 3 {
		t.Fatalf("Flush tcp dport 80 = %d, %v; want 3", n, err)
	}
	if n, _ := c.Count(ctx); n != 3 {
		t.Fatalf("Count after flush = %d, want 3", n)
	}
	if n, err := c.Flush(ctx, Filter{}); err != nil || n != 3 {
		t.Fatalf("Flush all = %d, %v; want 3", n, err)
	}
}

func TestReload(t *testing.T) {
	src := &fakeSource{gen: 4}
	var fail atomic.Bool
	fail.Store(true)
	rl := reloaderFunc(func() error {
		if fail.Load() {
			return fmt.Errorf("statewall.toml:12: rules[2].verdict: %w", errors.New(`unknown verdict "acept"`))
		}
		src.mu.Lock()
		src.gen++
		src.mu.Unlock()
		return nil
	})
	_, c := startServer(t, Config{Source: src, Reloader: rl})
	_, err := c.Reload(context.Background())
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 422 || !strings.Contains(err.Error(), `statewall.toml:12: rules[2].verdict: unknown verdict "acept"`) {
		t.Errorf("failed reload: %v", err)
	}
	fail.Store(false)
	if gen, err := c.Reload(context.Background()); err != nil || gen != 5 {
		t.Errorf("Reload = %d, %v; want generation 5", gen, err)
	}
}

func TestUnavailable(t *testing.T) {
	_, c := startServer(t, Config{})
	var ae *APIError
	if _, err := c.Reload(context.Background()); !errors.As(err, &ae) || ae.Status != 503 {
		t.Errorf("reload without a reloader: %v", err)
	}
}

func TestStatusRates(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	var mu sync.Mutex
	nows := 0
	now := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		nows++
		return t0.Add(time.Duration(nows) * 2 * time.Second)
	}
	src := &fakeSource{gen: 1}
	_, c := startServer(t, Config{Source: src, Now: now})
	st, err := c.Status(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	// Snapshot k has worker counters 1000k packets; the first sample is
	// calls 1-2, the second 3-4: worker 0 goes from k=1 to k=3 in 2 s.
	if len(st.Workers) != 2 || st.Interval != 2*time.Second {
		t.Fatalf("status %+v", st)
	}
	w := st.Workers[0]
	if w.PacketsPerSec != 1000 || w.BitsPerSec != 8*100000 || w.DropsPerSec != 100 {
		t.Errorf("worker 0 rates %+v", w)
	}
	if w.Entries != 25 || w.Capacity != 100 || w.Fill != 0.25 {
		t.Errorf("worker 0 table %+v", w)
	}
	if len(st.Ports) != 1 || st.Ports[0].RxPacketsRate != 10 || st.Ports[0].RxMissed != 1 {
		t.Errorf("ports %+v", st.Ports)
	}
	if _, err := c.Status(context.Background(), time.Hour); err == nil {
		t.Error("an hour's interval was accepted")
	}
}

func TestRules(t *testing.T) {
	_, c := startServer(t, Config{Source: &fakeSource{gen: 2}})
	r, err := c.Rules(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []RuleStatus{
		{Index: 1, Name: "web", Verdict: "accept", Match: "tcp dport 80", Packets: 3, Bytes: 200},
		{Index: 2, Name: "policy", Verdict: "drop", Packets: 20, Bytes: 2000},
	}
	if r.Generation != 2 || fmt.Sprint(r.Rules) != fmt.Sprint(want) {
		t.Errorf("rules %+v, want %+v", r, want)
	}
}

// BenchmarkList measures listing generated entries over the socket, in
// the binary encoding the client uses; ns/op is per entry.
func BenchmarkList(b *testing.B) {
	path := filepath.Join(b.TempDir(), "control.sock")
	s, err := Listen(Config{Path: path, Conntrack: &genConntrack{n: b.N}})
	if err != nil {
		b.Fatal(err)
	}
	go s.Serve()
	defer s.Close()
	c, err := Dial(path)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.ReportAllocs()
	b.ResetTimer()
	n, err := c.List(context.Background(), Filter{}, func(*Entry) error { return nil })
	if err != nil || n != b.N {
		b.Fatalf("listed %d of %d: %v", n, b.N, err)
	}
}
