package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/dataplane/port"
	"github.com/statewall/statewall/flowtable/ctstate"
)

// fakeSource is an engine of two workers with fixed counters.
type fakeSource struct {
	workers []Counters
	rules   Ruleset
}

func (f *fakeSource) Workers() int { return len(f.workers) }

func (f *fakeSource) WorkerCounters(i int, dst *Counters) {
	rp, rb := dst.RulePackets, dst.RuleBytes
	*dst = f.workers[i]
	dst.RulePackets = append(rp[:0], f.workers[i].RulePackets...)
	dst.RuleBytes = append(rb[:0], f.workers[i].RuleBytes...)
}

func (f *fakeSource) Ports() []PortInfo {
	return []PortInfo{
		{Name: "p0", Up: true, Stats: port.Stats{RxPackets: 100, RxMissed: 3, TxErrors: 1},
			XStats:           []XStat{{"rx_good_packets", 100}, {"rx_good_packets", 1}, {"tx_good_packets", 90}},
			ChecksumOffloads: []string{"ipv4", "tcp", "udp"}},
		{Name: "p1", Stats: port.Stats{TxPackets: 90}},
	}
}

func (f *fakeSource) WorkerCPU(int) int { return -1 }

func (f *fakeSource) FlowTables() []FlowTableStats {
	return []FlowTableStats{
		{Worker: 0, Capacity: 1000, MemoryBytes: 64000,
			Protos:    []ProtoStats{{Proto: "tcp", Entries: 10, Inserts: 20, Evictions: 1, Expiries: 9}, {Proto: "udp", Entries: 5, Inserts: 5}},
			TCPStates: []StateCount{{"ESTABLISHED", 8}, {"TIME_WAIT", 2}}},
		{Worker: 1, Capacity: 1000, MemoryBytes: 64000, Protos: []ProtoStats{{Proto: "tcp", Entries: 1, Inserts: 1, TableFull: 4}}},
	}
}

func (f *fakeSource) Expectations() ExpectationStats {
	return ExpectationStats{Current: 2, Capacity: 256, Created: 7, Matched: 4, Expired: 1,
		Refused: []ReasonCount{{"table_full", 3}}}
}

func (f *fakeSource) Rules() Ruleset { return f.rules }

func (f *fakeSource) Reload() ReloadStats {
	return ReloadStats{Successes: 3, Failures: 1, LastSuccess: time.Unix(1700000000, 500e6), Generation: 3}
}

func newFake() *fakeSource {
	buckets := []int{0, 1, 2, 4, 8, 16, 32, 64, 128, 256}
	w0 := Counters{Bursts: 10, Packets: 40, Bytes: 4000, BurstBuckets: buckets,
		BurstSizes:      []uint64{2, 0, 0, 4, 4, 0, 0, 0, 0, 0, 0},
		RulesGeneration: 3, RulePackets: []uint64{10, 5, 1}, RuleBytes: []uint64{1000, 500, 100}}
	w0.ByVerdict = [NumVerdicts]uint64{30, 8, 2}
	w0.BytesVerdict = [NumVerdicts]uint64{3000, 800, 200}
	// Worker 0 counts per receiving port; worker 1 does not (its totals
	// are reported without a port).
	w0.PortPackets = [][NumVerdicts]uint64{{20, 8, 2}, {10, 0, 0}}
	w0.PortBytes = [][NumVerdicts]uint64{{2000, 800, 200}, {1000, 0, 0}}
	w0.ByReason[packet.ReasonRuleDrop] = 8
	w0.ByReason[packet.ReasonRuleReject] = 2
	w0.ByState[ctstate.New] = 4
	w0.ByState[ctstate.Established] = 36
	w1 := Counters{Bursts: 1, Packets: 300, BurstBuckets: buckets,
		BurstSizes:      []uint64{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
		RulesGeneration: 3, RulePackets: []uint64{1, 2, 3}, RuleBytes: []uint64{10, 20, 30}}
	w1.ByVerdict[0] = 300
	return &fakeSource{
		workers: []Counters{w0, w1},
		rules: Ruleset{Generation: 3, Rules: []RuleInfo{
			{Name: "ssh", Verdict: "accept"}, {Name: "", Verdict: "drop"}, {Name: "ignored", Verdict: "drop"}}},
	}
}

func TestCollectorLint(t *testing.T) {
	problems, err := testutil.CollectAndLint(NewCollector(newFake()))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

func TestCollectorValues(t *testing.T) {
	c := NewCollector(newFake())
	expected := `
# HELP statewall_rule_packets_total Packets that matched a rule of the current ruleset (the default policy is rule="policy").
# TYPE statewall_rule_packets_total counter
statewall_rule_packets_total{rule="2"} 7
statewall_rule_packets_total{rule="policy"} 4
statewall_rule_packets_total{rule="ssh"} 11
# HELP statewall_packets_total Packets received by a worker, by receiving port and verdict.
# TYPE statewall_packets_total counter
statewall_packets_total{port="",verdict="accept",worker="1"} 300
statewall_packets_total{port="",verdict="drop",worker="1"} 0
statewall_packets_total{port="",verdict="hold",worker="1"} 0
statewall_packets_total{port="",verdict="reject",worker="1"} 0
statewall_packets_total{port="p0",verdict="accept",worker="0"} 20
statewall_packets_total{port="p0",verdict="drop",worker="0"} 8
statewall_packets_total{port="p0",verdict="hold",worker="0"} 0
statewall_packets_total{port="p0",verdict="reject",worker="0"} 2
statewall_packets_total{port="p1",verdict="accept",worker="0"} 10
statewall_packets_total{port="p1",verdict="drop",worker="0"} 0
statewall_packets_total{port="p1",verdict="hold",worker="0"} 0
statewall_packets_total{port="p1",verdict="reject",worker="0"} 0
# HELP statewall_burst_size Frames received per poll of a queue.
# TYPE statewall_burst_size histogram
statewall_burst_size_bucket{worker="0",le="0"} 2
statewall_burst_size_bucket{worker="0",le="1"} 2
statewall_burst_size_bucket{worker="0",le="2"} 2
statewall_burst_size_bucket{worker="0",le="4"} 6
statewall_burst_size_bucket{worker="0",le="8"} 10
statewall_burst_size_bucket{worker="0",le="16"} 10
statewall_burst_size_bucket{worker="0",le="32"} 10
statewall_burst_size_bucket{worker="0",le="64"} 10
statewall_burst_size_bucket{worker="0",le="128"} 10
statewall_burst_size_bucket{worker="0",le="256"} 10
statewall_burst_size_bucket{worker="0",le="+Inf"} 10
statewall_burst_size_sum{worker="0"} 40
statewall_burst_size_count{worker="0"} 10
statewall_burst_size_bucket{worker="1",le="0"} 0
statewall_burst_size_bucket{worker="1",le="1"} 0
statewall_burst_size_bucket{worker="1",le="2"} 0
statewall_burst_size_bucket{worker="1",le="4"} 0
statewall_burst_size_bucket{worker="1",le="8"} 0
statewall_burst_size_bucket{worker="1",le="16"} 0
statewall_burst_size_bucket{worker="1",le="32"} 0
statewall_burst_size_bucket{worker="1",le="64"} 0
statewall_burst_size_bucket{worker="1",le="128"} 0
statewall_burst_size_bucket{worker="1",le="256"} 0
statewall_burst_size_bucket{worker="1",le="+Inf"} 1
statewall_burst_size_sum{worker="1"} 300
statewall_burst_size_count{worker="1"} 1
# HELP statewall_reload_total Configuration reloads by result.
# TYPE statewall_reload_total counter
statewall_reload_total{result="failure"} 1
statewall_reload_total{result="success"} 3
# HELP statewall_reload_last_success_timestamp_seconds Time of the last successful configuration load.
# TYPE statewall_reload_last_success_timestamp_seconds gauge
statewall_reload_last_success_timestamp_seconds 1.7000000005e+09
# HELP statewall_port_rx_missed_total Packets the NIC dropped for want of descriptors or buffers.
# TYPE statewall_port_rx_missed_total counter
statewall_port_rx_missed_total{port="p0"} 3
statewall_port_rx_missed_total{port="p1"} 0
# HELP statewall_flowtable_entries Connections in a worker's table, by protocol.
# TYPE statewall_flowtable_entries gauge
statewall_flowtable_entries{proto="tcp",worker="0"} 10
statewall_flowtable_entries{proto="tcp",worker="1"} 1
statewall_flowtable_entries{proto="udp",worker="0"} 5
# HELP statewall_expectations_refused_total Expectations not created, by reason.
# TYPE statewall_expectations_refused_total counter
statewall_expectations_refused_total{reason="table_full"} 3
`
	err := testutil.CollectAndCompare(c, strings.NewReader(expected),
		"statewall_rule_packets_total", "statewall_packets_total", "statewall_burst_size",
		"statewall_reload_total", "statewall_reload_last_success_timestamp_seconds",
		"statewall_port_rx_missed_total", "statewall_flowtable_entries", "statewall_expectations_refused_total")
	if err != nil {
		t.Fatal(err)
	}
}

// TestCollectorLabelSets checks that every per-worker family has one
// series per worker and bounded label value, and drops cover every reason.
func TestCollectorLabelSets(t *testing.T) {
	c := NewCollector(newFake())
	counts := map[string]int{
		"statewall_packets_total":          3 * NumVerdicts, // worker 0 on two ports, worker 1 unsplit
		"statewall_bytes_total":            3 * NumVerdicts,
		"statewall_drops_total":            2 * (packet.NumReasons - 1),
		"statewall_ct_state_packets_total": 2 * ctstate.NumStates,
		"statewall_port_xstats_total":      2, // the duplicate name is dropped
		"statewall_port_checksum_offload":  3, // p1 has none
		"statewall_flowtable_tcp_entries":  2,
		"statewall_rule_bytes_total":       3,
	}
	for name, want := range counts {
		if got := testutil.CollectAndCount(c, name); got != want {
			t.Errorf("%s: %d series, want %d", name, got, want)
		}
	}
}

// TestCollectorStaleRuleGeneration checks that a worker still counting an
// older ruleset's rules adds nothing to the new rules.
func TestCollectorStaleRuleGeneration(t *testing.T) {
	f := newFake()
	f.workers[1].RulesGeneration = 2
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewCollector(f))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "statewall_rule_packets_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == "ssh" && m.GetCounter().GetValue() != 10 {
				t.Errorf("ssh packets %v, want 10 (worker 1 is on an older generation)", m.GetCounter().GetValue())
			}
		}
	}
}

func TestRuleLabels(t *testing.T) {
	got := RuleLabels([]RuleInfo{{Name: "a"}, {Name: ""}, {Name: "a"}, {Name: "policy"}, {Name: "x"}})
	want := []string{"a", "2", "a#3", "policy", "policy#5"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("RuleLabels = %q, want %q", got, want)
	}
}

func TestHandler(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewCollector(newFake()))
	ready := false
	srv := httptest.NewServer(Handler(reg, func() bool { return ready }))
	defer srv.Close()
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz %d", code)
	}
	if code, _ := get("/readyz"); code != 503 {
		t.Errorf("/readyz before ready: %d, want 503", code)
	}
	ready = true
	if code, _ := get("/readyz"); code != 200 {
		t.Errorf("/readyz when ready: %d", code)
	}
	code, body := get("/metrics")
	if code != 200 || !strings.Contains(body, `statewall_packets_total{port="",verdict="accept",worker="1"} 300`) {
		t.Errorf("/metrics %d:\n%s", code, body)
	}
}

// BenchmarkScrape measures one full scrape (collect and encode) of an
// engine with 16 workers, 4 ports and 200 rules.
func BenchmarkScrape(b *testing.B) {
	f := newFake()
	w := f.workers[0]
	w.RulePackets = make([]uint64, 201)
	w.RuleBytes = make([]uint64, 201)
	f.workers = nil
	for range 16 {
		f.workers = append(f.workers, w)
	}
	f.rules.Rules = make([]RuleInfo, 201)
	for i := range f.rules.Rules {
		f.rules.Rules[i] = RuleInfo{Name: "rule" + strconv.Itoa(i), Verdict: "accept"}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(f))
	h := Handler(reg, func() bool { return true })
	req := httptest.NewRequest("GET", "/metrics", nil)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
	}
}
