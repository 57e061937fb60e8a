// Package engine turns a validated configuration into the parts of the
// packet path: the shared expectation table and ALG helpers, one
// connection tracker per worker, and the compiled ruleset behind the
// atomic pointer workers read once per burst. The daemon and offline
// replay build their engines here, so both run the same code.
package engine

import (
	"fmt"
	"sync/atomic"

	"github.com/statewall/statewall/alg"
	"github.com/statewall/statewall/alg/ftp"
	"github.com/statewall/statewall/config"
	"github.com/statewall/statewall/config/rules"
	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/dataplane/pipeline"
	"github.com/statewall/statewall/flowtable/conntrack"
)

// AcceptAll is the configuration replay uses without -c: every packet is
// tracked with Linux's default conntrack options (loose pickup on,
// be_liberal off, the FTP helper on port 21) and accepted.
const AcceptAll = `
[policy]
forward = "accept"
`

// DefaultConfig returns the AcceptAll configuration.
func DefaultConfig() *config.Config {
	cfg, err := config.Parse("(built-in accept-all)", []byte(AcceptAll))
	if err != nil {
		panic("engine: built-in configuration does not load: " + err.Error())
	}
	return cfg
}

// Shared is what all workers of one engine share: the expectation table,
// the helpers, and the current ruleset.
type Shared struct {
	Config       *config.Config
	Expectations *alg.Expectations // nil when no helper is enabled
	Helpers      []conntrack.HelperBinding
	// Ruleset is the ruleset in force, swapped whole by reloads; workers
	// load it once per burst.
	Ruleset *atomic.Pointer[rules.Ruleset]
}

// NewShared builds the shared parts from cfg. current is the reload
// controller's ruleset pointer; nil compiles cfg's ruleset as generation
// 1 behind a pointer of its own (replay, tests).
func NewShared(cfg *config.Config, current *atomic.Pointer[rules.Ruleset]) (*Shared, error) {
	s := &Shared{Config: cfg, Ruleset: current}
	if cfg.FTP.Enabled && len(cfg.FTP.Ports) > 0 {
		s.Expectations = alg.NewExpectations(cfg.Expectations.Max)
		h := ftp.New(s.Expectations, ftp.Config{MaxExpected: cfg.FTP.MaxExpected, Timeout: cfg.FTP.ExpectTimeout})
		for _, p := range cfg.FTP.Ports {
			s.Helpers = append(s.Helpers, conntrack.HelperBinding{Proto: packet.ProtoTCP, Port: p, Helper: h})
		}
	}
	if s.Ruleset == nil {
		rs, err := rules.Compile(cfg, 1)
		if err != nil {
			return nil, fmt.Errorf("compiling %s: %w", cfg.File, err)
		}
		s.Ruleset = new(atomic.Pointer[rules.Ruleset])
		s.Ruleset.Store(rs)
	}
	return s, nil
}

// TrackerOptions derives one worker's tracker options from cfg: the
// configured timeouts and switches, and its share of the flow capacity.
func TrackerOptions(cfg *config.Config, workers int) conntrack.Options {
	if workers < 1 {
		workers = 1
	}
	o := conntrack.DefaultOptions()
	c := cfg.Conntrack
	o.Tunables = pipeline.TrackerTunables(&c)
	o.VLANZones = c.VLANZones
	if c.MaxFlows > 0 {
		per := int(c.MaxFlows) / workers
		// Each family's table can hold the whole share, and the two
		// together hold no more (as nf_conntrack_max counts every family).
		o.Capacity4 = max(per, 1024)
		o.Capacity6 = max(per, 1024)
		o.MaxConns = max(per, 1024)
	}
	return o
}

// TableMemory is the memory one of workers workers gives its IPv4 and
// IPv6 tables: what max_flows' share takes in each (both families can
// hold it all, TrackerOptions), or without max_flows three quarters and a
// quarter of its share of flow_memory.
func TableMemory(cfg *config.Config, workers int) (mem4, mem6 int64) {
	workers = max(workers, 1)
	if cfg.Conntrack.MaxFlows > 0 {
		o := TrackerOptions(cfg, workers)
		return conntrack.TableBytes4(o.Capacity4), conntrack.TableBytes6(o.Capacity6)
	}
	per := int64(cfg.Dataplane.FlowMemory) / int64(workers)
	return per * 3 / 4, per / 4
}

// NewSingle builds the shared engine of cfg and one worker's tracker with
// its tables in Go memory: the engine of a single goroutine, as offline
// replay and tests run it.
func NewSingle(cfg *config.Config) (*Shared, *conntrack.Tracker, error) {
	shared, err := NewShared(cfg, nil)
	if err != nil {
		return nil, nil, err
	}
	tr, err := shared.NewTracker(1, nil, nil)
	if err != nil {
		return nil, nil, err
	}
	return shared, tr, nil
}

// NewTracker builds one worker's tracker with the shared expectations
// and helpers. mem4 and mem6, when not nil, are the arenas (hugepage or
// DPDK memory) its tables live in.
func (s *Shared) NewTracker(workers int, mem4, mem6 []byte) (*conntrack.Tracker, error) {
	o := TrackerOptions(s.Config, workers)
	// With arenas the tables fill them, unless max_flows sets the
	// capacity (then bounded by the arena): a table sized to its flows
	// keeps its index compact, in the caches.
	o.Mem4, o.Mem6 = mem4, mem6
	if s.Config.Conntrack.MaxFlows == 0 {
		if mem4 != nil {
			o.Capacity4 = 0
		}
		if mem6 != nil {
			o.Capacity6 = 0
		}
	}
	var m conntrack.ExpectationMatcher
	if s.Expectations != nil {
		m = s.Expectations
	}
	return conntrack.New(o, m, s.Helpers)
}
