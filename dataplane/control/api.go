package control

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/statewall/statewall/dataplane/metrics"
)

// API paths, version 1.
const (
	pathStatus    = "/v1/status"
	pathConntrack = "/v1/conntrack"
	pathCount     = "/v1/conntrack/count"
	pathFlush     = "/v1/conntrack/flush"
	pathRules     = "/v1/rules"
	pathReload    = "/v1/reload"
)

// Status is the engine's state and rates over a sampling interval.
type Status struct {
	Time         time.Time                `json:"time"`
	Interval     time.Duration            `json:"interval_ns"` // between the two snapshots the rates come from
	Generation   uint64                   `json:"generation"`
	Workers      []WorkerStatus           `json:"workers"`
	Ports        []PortStatus             `json:"ports"`
	Expectations metrics.ExpectationStats `json:"expectations"`
	Reload       ReloadStatus             `json:"reload"`
}

// WorkerStatus is one worker's totals, rates and table fill.
type WorkerStatus struct {
	ID            int     `json:"id"`
	CPU           int     `json:"cpu"` // the CPU it is pinned to, -1 when not pinned
	Packets       uint64  `json:"packets"`
	Bytes         uint64  `json:"bytes"`
	Dropped       uint64  `json:"dropped"` // dropped or rejected
	PacketsPerSec float64 `json:"packets_per_sec"`
	BitsPerSec    float64 `json:"bits_per_sec"`
	DropsPerSec   float64 `json:"drops_per_sec"`
	Entries       uint64  `json:"entries"`
	Capacity      uint64  `json:"capacity"`
	Fill          float64 `json:"fill"` // Entries / Capacity
}

// PortStatus is one port's counters and rates.
type PortStatus struct {
	Name          string  `json:"name"`
	Up            bool    `json:"up"`
	RxPackets     uint64  `json:"rx_packets"`
	TxPackets     uint64  `json:"tx_packets"`
	RxMissed      uint64  `json:"rx_missed"`
	RxErrors      uint64  `json:"rx_errors"`
	TxErrors      uint64  `json:"tx_errors"`
	TxDropped     uint64  `json:"tx_dropped"`
	RxPacketsRate float64 `json:"rx_packets_per_sec"`
	TxPacketsRate float64 `json:"tx_packets_per_sec"`
	RxBitsRate    float64 `json:"rx_bits_per_sec"`
	TxBitsRate    float64 `json:"tx_bits_per_sec"`
	// ChecksumOffload names the checksums the NIC verifies on receipt.
	ChecksumOffload []string `json:"checksum_offload,omitempty"`
}

// ReloadStatus are the reload counters.
type ReloadStatus struct {
	Successes   uint64    `json:"successes"`
	Failures    uint64    `json:"failures"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
}

// RuleStatus is one rule and the traffic it matched.
type RuleStatus struct {
	Index   int    `json:"index"` // 1-based position; the policy is last
	Name    string `json:"name"`  // the rule label of the metrics
	Verdict string `json:"verdict"`
	Match   string `json:"match"`
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
}

// Rules is the ruleset in force with its counters.
type Rules struct {
	Generation uint64       `json:"generation"`
	Rules      []RuleStatus `json:"rules"`
}

// ReloadResult is the answer to a successful reload.
type ReloadResult struct {
	Generation uint64 `json:"generation"`
}

// errorReply is the body of every failed request.
type errorReply struct {
	Error string `json:"error"`
}

// listFrame is one line of a conntrack listing: a chunk of entries, or
// the final line (Done with the count, or Error).
type listFrame struct {
	Entries []Entry `json:"entries,omitempty"`
	Done    bool    `json:"done,omitempty"`
	Count   int     `json:"count,omitempty"`
	Error   string  `json:"error,omitempty"`
}

// countReply answers count and flush.
type countReply struct {
	Count int `json:"count"`
}

var errUnavailable = errors.New("not available in this engine")

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+pathStatus, s.handleStatus)
	mux.HandleFunc("GET "+pathConntrack, s.handleList)
	mux.HandleFunc("GET "+pathCount, s.handleCount)
	mux.HandleFunc("POST "+pathFlush, s.handleFlush)
	mux.HandleFunc("GET "+pathRules, s.handleRules)
	mux.HandleFunc("POST "+pathReload, s.handleReload)
	return s.guard(mux)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, errorReply{Error: err.Error()})
}

// snapshot is what status samples twice.
type snapshot struct {
	at      time.Time
	workers []metrics.Counters
	ports   []metrics.PortInfo
}

func (s *Server) sample() snapshot {
	src := s.cfg.Source
	n := src.Workers()
	sn := snapshot{workers: make([]metrics.Counters, n)}
	for i := range n {
		src.WorkerCounters(i, &sn.workers[i])
	}
	sn.ports = src.Ports()
	sn.at = s.cfg.Now()
	return sn
}

func rate(a, b uint64, secs float64) float64 {
	if secs <= 0 || b < a {
		return 0
	}
	return float64(b-a) / secs
}

func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	src := s.cfg.Source
	if src == nil {
		writeError(w, http.StatusServiceUnavailable, fmt.Errorf("status: %w", errUnavailable))
		return
	}
	interval := time.Second
	if q := r.URL.Query().Get("interval"); q != "" {
		d, err := time.ParseDuration(q)
		if err != nil || d < 0 || d > s.cfg.MaxInterval {
			writeError(w, http.StatusBadRequest, fmt.Errorf("status: interval %q: want a duration from 0 to %v", q, s.cfg.MaxInterval))
			return
		}
		interval = d
	}
	first := s.sample()
	if interval > 0 {
		t := time.NewTimer(interval)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	second := s.sample()
	secs := second.at.Sub(first.at).Seconds()

	st := Status{Time: second.at, Interval: second.at.Sub(first.at)}
	tables := src.FlowTables()
	for i, c := range second.workers {
		ws := WorkerStatus{ID: i, CPU: src.WorkerCPU(i), Packets: c.Packets, Bytes: c.Bytes,
			Dropped: c.ByVerdict[metrics.VerdictDrop] + c.ByVerdict[metrics.VerdictReject]}
		if i < len(first.workers) {
			p := &first.workers[i]
			ws.PacketsPerSec = rate(p.Packets, c.Packets, secs)
			ws.BitsPerSec = 8 * rate(p.Bytes, c.Bytes, secs)
			ws.DropsPerSec = rate(p.ByVerdict[metrics.VerdictDrop]+p.ByVerdict[metrics.VerdictReject], ws.Dropped, secs)
		}
		for _, t := range tables {
			if t.Worker != i {
				continue
			}
			ws.Capacity = t.Capacity
			for _, p := range t.Protos {
				ws.Entries += p.Entries
			}
		}
		if ws.Capacity > 0 {
			ws.Fill = float64(ws.Entries) / float64(ws.Capacity)
		}
		st.Workers = append(st.Workers, ws)
	}
	for _, p := range second.ports {
		ps := PortStatus{Name: p.Name, Up: p.Up, RxPackets: p.Stats.RxPackets, TxPackets: p.Stats.TxPackets,
			RxMissed: p.Stats.RxMissed, RxErrors: p.Stats.RxErrors, TxErrors: p.Stats.TxErrors, TxDropped: p.Stats.TxDropped,
			ChecksumOffload: p.ChecksumOffloads}
		for _, q := range first.ports {
			if q.Name != p.Name {
				continue
			}
			ps.RxPacketsRate = rate(q.Stats.RxPackets, p.Stats.RxPackets, secs)
			ps.TxPacketsRate = rate(q.Stats.TxPackets, p.Stats.TxPackets, secs)
			ps.RxBitsRate = 8 * rate(q.Stats.RxBytes, p.Stats.RxBytes, secs)
			ps.TxBitsRate = 8 * rate(q.Stats.TxBytes, p.Stats.TxBytes, secs)
		}
		st.Ports = append(st.Ports, ps)
	}
	st.Expectations = src.Expectations()
	rl := src.Reload()
	st.Generation = rl.Generation
	st.Reload = ReloadStatus{Successes: rl.Successes, Failures: rl.Failures, LastSuccess: rl.LastSuccess, LastError: rl.LastError}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) filter(w http.ResponseWriter, r *http.Request) (Filter, bool) {
	if s.cfg.Conntrack == nil {
		writeError(w, http.StatusServiceUnavailable, fmt.Errorf("conntrack: %w", errUnavailable))
		return Filter{}, false
	}
	f, err := FilterFromValues(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("conntrack filter: %w", err))
		return Filter{}, false
	}
	return f, true
}

// handleList streams the listing chunk by chunk, flushed as it goes:
// memory is bounded by a chunk, whatever the table size. The stream is
// JSON lines unless the client accepts the binary encoding (wire.go); its
// last record says the listing completed (with its count) or why it
// stopped.
func (s *Server) handleList(w http.ResponseWriter, r *http.Request) {
	f, ok := s.filter(w, r)
	if !ok {
		return
	}
	binary := r.Header.Get("Accept") == wireMediaType
	if binary {
		w.Header().Set("Content-Type", wireMediaType)
	} else {
		w.Header().Set("Content-Type", "application/x-ndjson")
	}
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	enc := json.NewEncoder(w)
	var buf []byte
	count := 0
	ctx := r.Context()
	err := s.cfg.Conntrack.List(f, func(entries []Entry) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if len(entries) == 0 {
			return nil
		}
		if binary {
			buf = buf[:0]
			for i := range entries {
				buf = appendWireEntry(buf, &entries[i])
			}
			if _, err := w.Write(buf); err != nil {
				return err
			}
		} else if err := enc.Encode(listFrame{Entries: entries}); err != nil {
			return err
		}
		count += len(entries)
		return rc.Flush()
	})
	switch {
	case binary && err != nil:
		_, _ = w.Write(appendWireError(buf[:0], err.Error()))
	case binary:
		_, _ = w.Write(appendWireDone(buf[:0], count))
	case err != nil:
		_ = enc.Encode(listFrame{Error: err.Error()})
	default:
		_ = enc.Encode(listFrame{Done: true, Count: count})
	}
}

func (s *Server) handleCount(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Conntrack == nil {
		writeError(w, http.StatusServiceUnavailable, fmt.Errorf("conntrack: %w", errUnavailable))
		return
	}
	writeJSON(w, http.StatusOK, countReply{Count: s.cfg.Conntrack.Count()})
}

func (s *Server) handleFlush(w http.ResponseWriter, r *http.Request) {
	f, ok := s.filter(w, r)
	if !ok {
		return
	}
	n, err := s.cfg.Conntrack.Flush(f)
	if err != nil {
		writeError(w, http.StatusInternalServerError, fmt.Errorf("conntrack flush: %w", err))
		return
	}
	writeJSON(w, http.StatusOK, countReply{Count: n})
}

func (s *Server) handleRules(w http.ResponseWriter, r *http.Request) {
	src := s.cfg.Source
	if src == nil {
		writeError(w, http.StatusServiceUnavailable, fmt.Errorf("rules: %w", errUnavailable))
		return
	}
	writeJSON(w, http.StatusOK, RulesOf(src))
}

// RulesOf returns the ruleset in force with each rule's counters summed
// over the workers that count for its generation.
func RulesOf(src metrics.Source) Rules {
	rs := src.Rules()
	n := len(rs.Rules)
	out := Rules{Generation: rs.Generation, Rules: make([]RuleStatus, n)}
	labels := metrics.RuleLabels(rs.Rules)
	for i, ri := range rs.Rules {
		out.Rules[i] = RuleStatus{Index: i + 1, Name: labels[i], Verdict: ri.Verdict, Match: ri.Match}
	}
	var c metrics.Counters
	for w := range src.Workers() {
		src.WorkerCounters(w, &c)
		if c.RulesGeneration != rs.Generation || len(c.RulePackets) != n || len(c.RuleBytes) != n {
			continue
		}
		for i := range n {
			out.Rules[i].Packets += c.RulePackets[i]
			out.Rules[i].Bytes += c.RuleBytes[i]
		}
	}
	return out
}

func (s *Server) handleReload(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Reloader == nil {
		writeError(w, http.StatusServiceUnavailable, fmt.Errorf("reload: %w", errUnavailable))
		return
	}
	if err := s.cfg.Reloader.Reload(); err != nil {
		writeError(w, http.StatusUnprocessableEntity, fmt.Errorf("reload failed, the previous ruleset stays in force: %w", err))
		return
	}
	res := ReloadResult{}
	if s.cfg.Source != nil {
		res.Generation = s.cfg.Source.Reload().Generation
	}
	writeJSON(w, http.StatusOK, res)
}
