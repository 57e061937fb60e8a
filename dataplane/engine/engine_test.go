package engine_test

import (
	"fmt"
	"testing"

	"github.com/statewall/statewall/config"
	"github.com/statewall/statewall/config/configtest"
	"github.com/statewall/statewall/dataplane/engine"
)

// TestMaxFlowsBoundsArenaTables checks that max_flows sizes a worker's
// tables even when they live in an arena (bounded by what it holds), and
// that without it the tables fill the arena.
func TestMaxFlowsBoundsArenaTables(t *testing.T) {
	mem4, mem6 := make([]byte, 8<<20), make([]byte, 2<<20)
	for _, tc := range []struct {
		maxFlows int
		want4    func(int) bool
		what     string
	}{
		{5000, func(c int) bool { return c == 5000 }, "max_flows"},
		{0, func(c int) bool { return c > 50000 }, "the arena's worth"},
		{10_000_000, func(c int) bool { return c > 50000 && c < 10_000_000 }, "at most the arena's worth"},
	} {
		text := fmt.Sprintf("[conntrack]\nmax_flows = %d\n%s", tc.maxFlows, configtest.Stateful)
		c, err := config.Parse("t.toml", []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		shared, err := engine.NewShared(c, nil)
		if err != nil {
			t.Fatal(err)
		}
		tr, err := shared.NewTracker(1, mem4, mem6)
		if err != nil {
			t.Fatal(err)
		}
		if c4, _ := tr.Capacity(); !tc.want4(c4) {
			t.Errorf("max_flows = %d: IPv4 capacity %d, want %s", tc.maxFlows, c4, tc.what)
		}
	}
}

// TestTableMemoryHoldsMaxFlows: with max_flows, each worker's arenas hold
// its whole share in either family (and the two together no more);
// without, flow_memory is split three to one.
func TestTableMemoryHoldsMaxFlows(t *testing.T) {
	cfg, err := config.Parse("t.toml", []byte("[dataplane]\nflow_memory = \"64MiB\"\n[conntrack]\nmax_flows = 300000\n"))
	if err != nil {
		t.Fatal(err)
	}
	shared, err := engine.NewShared(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	b4, b6 := engine.TableMemory(cfg, 2)
	tr, err := shared.NewTracker(2, make([]byte, b4), make([]byte, b6))
	if err != nil {
		t.Fatal(err)
	}
	if c4, c6 := tr.Capacity(); c4 != 150000 || c6 != 150000 || tr.MaxConns() != 150000 {
		t.Errorf("capacities %d, %d, at most %d connections; want 150000 each and together", c4, c6, tr.MaxConns())
	}
	cfg.Conntrack.MaxFlows = 0
	if b4, b6 := engine.TableMemory(cfg, 2); b4 != 24<<20 || b6 != 8<<20 {
		t.Errorf("without max_flows: %d and %d bytes, want 24 and 8 MiB", b4, b6)
	}
}
