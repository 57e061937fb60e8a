package metrics

import (
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/flowtable/ctstate"
)

// Namespace prefixes every metric name.
const Namespace = "statewall"

// PolicyRuleName is the rule label value of the default policy.
const PolicyRuleName = "policy"

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(Namespace+"_"+name, help, labels, nil)
}

// descs are the collector's metric descriptions, one set per collector.
type descs struct {
	packets, bytes, drops, ctState, notTracked, cacheHits, txDropped, burst *prometheus.Desc

	rejectsSent, rejectsLimited, handedOver, handOverDropped, logged, logDropped *prometheus.Desc

	portUp, portRxPackets, portRxBytes, portTxPackets, portTxBytes            *prometheus.Desc
	portRxMissed, portRxErrors, portTxErrors, portTxDropped, xstat, portCksum *prometheus.Desc

	ftEntries, ftCapacity, ftMemory, ftInserts, ftEvictions, ftExpiries, ftFull, ftTCP *prometheus.Desc

	expCurrent, expCapacity, expCreated, expMatched, expExpired, expRefused *prometheus.Desc

	rulePackets, ruleBytes, rulesetGen *prometheus.Desc

	reload, reloadLast *prometheus.Desc
}

func newDescs() *descs {
	return &descs{
		packets:    desc("packets_total", "Packets received by a worker, by receiving port and verdict.", "worker", "port", "verdict"),
		bytes:      desc("bytes_total", "Bytes received by a worker (whole frames), by receiving port and verdict.", "worker", "port", "verdict"),
		drops:      desc("drops_total", "Packets not forwarded, by reason.", "worker", "reason"),
		ctState:    desc("ct_state_packets_total", "Tracked packets by conntrack state.", "worker", "state"),
		notTracked: desc("not_tracked_packets_total", "Frames that never reached the tracker (not IP, malformed, held fragments).", "worker"),
		cacheHits:  desc("verdict_cache_hits_total", "Packets whose verdict came from the flow's cached verdict.", "worker"),
		txDropped:  desc("tx_dropped_packets_total", "Accepted packets the output queue had no room for.", "worker"),
		burst:      desc("burst_size", "Frames received per poll of a queue.", "worker"),

		rejectsSent:     desc("reject_replies_total", "TCP RSTs and ICMP unreachables sent for REJECT.", "worker"),
		rejectsLimited:  desc("reject_replies_limited_total", "REJECT replies held back by the rate limit (or for want of a buffer).", "worker"),
		handedOver:      desc("handed_over_packets_total", "Frames handed to the worker owning their connection (software spreading, ICMP errors).", "worker"),
		handOverDropped: desc("handed_over_dropped_total", "Frames the owning worker's full ring could not take.", "worker"),
		logged:          desc("logged_packets_total", "Packets handed to the rule log.", "worker"),
		logDropped:      desc("log_dropped_total", "Rule log records dropped: the log channel was full.", "worker"),

		portUp:        desc("port_up", "Whether the port is started (1) or not (0).", "port"),
		portRxPackets: desc("port_rx_packets_total", "Packets received by the port.", "port"),
		portRxBytes:   desc("port_rx_bytes_total", "Bytes received by the port.", "port"),
		portTxPackets: desc("port_tx_packets_total", "Packets transmitted by the port.", "port"),
		portTxBytes:   desc("port_tx_bytes_total", "Bytes transmitted by the port.", "port"),
		portRxMissed:  desc("port_rx_missed_total", "Packets the NIC dropped for want of descriptors or buffers.", "port"),
		portRxErrors:  desc("port_rx_errors_total", "Erroneous packets received by the port.", "port"),
		portTxErrors:  desc("port_tx_errors_total", "Packets the port failed to transmit.", "port"),
		portTxDropped: desc("port_tx_dropped_total", "Packets handed to the port but not sent (queue full).", "port"),
		xstat:         desc("port_xstats_total", "The port driver's extended statistics (DPDK xstats).", "port", "name"),
		portCksum:     desc("port_checksum_offload", "Checksums the port's NIC verifies on receipt (1 each; none without the offload).", "port", "checksum"),

		ftEntries:   desc("flowtable_entries", "Connections in a worker's table, by protocol.", "worker", "proto"),
		ftCapacity:  desc("flowtable_capacity", "Connections a worker's table can hold.", "worker"),
		ftMemory:    desc("flowtable_memory_bytes", "Memory of a worker's table arena.", "worker"),
		ftInserts:   desc("flowtable_inserts_total", "Connections inserted, by protocol.", "worker", "proto"),
		ftEvictions: desc("flowtable_evictions_total", "Connections evicted early to make room, by protocol.", "worker", "proto"),
		ftExpiries:  desc("flowtable_expiries_total", "Connections that timed out, by protocol.", "worker", "proto"),
		ftFull:      desc("flowtable_full_total", "Inserts refused: table full and nothing evictable.", "worker", "proto"),
		ftTCP:       desc("flowtable_tcp_entries", "TCP connections by TCP state.", "worker", "state"),

		expCurrent:  desc("expectations", "Pending expectations (ALG)."),
		expCapacity: desc("expectations_capacity", "Expectations the shared table can hold."),
		expCreated:  desc("expectations_created_total", "Expectations created."),
		expMatched:  desc("expectations_matched_total", "Expectations a new connection matched (RELATED)."),
		expExpired:  desc("expectations_expired_total", "Expectations that timed out unmatched."),
		expRefused:  desc("expectations_refused_total", "Expectations not created, by reason.", "reason"),

		rulePackets: desc("rule_packets_total", "Packets that matched a rule of the current ruleset (the default policy is rule=\"policy\").", "rule"),
		ruleBytes:   desc("rule_bytes_total", "Bytes that matched a rule of the current ruleset.", "rule"),
		rulesetGen:  desc("ruleset_generation", "Generation of the ruleset in force (bumped by each successful reload)."),

		reload:     desc("reload_total", "Configuration reloads by result.", "result"),
		reloadLast: desc("reload_last_success_timestamp_seconds", "Time of the last successful configuration load."),
	}
}

func (d *descs) all() []*prometheus.Desc {
	return []*prometheus.Desc{
		d.packets, d.bytes, d.drops, d.ctState, d.notTracked, d.cacheHits, d.txDropped, d.burst,
		d.rejectsSent, d.rejectsLimited, d.handedOver, d.handOverDropped, d.logged, d.logDropped,
		d.portUp, d.portRxPackets, d.portRxBytes, d.portTxPackets, d.portTxBytes,
		d.portRxMissed, d.portRxErrors, d.portTxErrors, d.portTxDropped, d.xstat, d.portCksum,
		d.ftEntries, d.ftCapacity, d.ftMemory, d.ftInserts, d.ftEvictions, d.ftExpiries, d.ftFull, d.ftTCP,
		d.expCurrent, d.expCapacity, d.expCreated, d.expMatched, d.expExpired, d.expRefused,
		d.rulePackets, d.ruleBytes, d.rulesetGen,
		d.reload, d.reloadLast,
	}
}

// Collector turns a Source's snapshots into metrics at scrape time.
type Collector struct {
	src Source
	d   *descs

	// mu guards scratch, reused across scrapes so a scrape allocates
	// little beyond the metrics themselves.
	mu      sync.Mutex
	scratch Counters
}

// NewCollector returns a collector over src, to register in a registry.
func NewCollector(src Source) *Collector {
	return &Collector{src: src, d: newDescs()}
}

// Describe sends every metric description.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.d.all() {
		ch <- d
	}
}

func counter(ch chan<- prometheus.Metric, d *prometheus.Desc, v uint64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
}

func gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

// Collect reads every source and sends the metrics of this moment.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ports := c.src.Ports()
	c.collectWorkers(ch, ports)
	c.collectPorts(ch, ports)
	c.collectFlowTables(ch)
	c.collectExpectations(ch)
	c.collectReload(ch)
}

func (c *Collector) collectWorkers(ch chan<- prometheus.Metric, ports []PortInfo) {
	d := c.d
	rs := c.src.Rules()
	nrules := len(rs.Rules)
	rulePackets := make([]uint64, nrules)
	ruleBytes := make([]uint64, nrules)
	s := &c.scratch
	for w := 0; w < c.src.Workers(); w++ {
		c.src.WorkerCounters(w, s)
		wl := strconv.Itoa(w)
		if len(s.PortPackets) == 0 { // a source without per-port counts
			for v := 0; v < NumVerdicts; v++ {
				counter(ch, d.packets, s.ByVerdict[v], wl, "", VerdictNames[v])
				counter(ch, d.bytes, s.BytesVerdict[v], wl, "", VerdictNames[v])
			}
		}
		for p := range s.PortPackets {
			name := strconv.Itoa(p)
			if p < len(ports) {
				name = ports[p].Name
			}
			for v := 0; v < NumVerdicts; v++ {
				counter(ch, d.packets, s.PortPackets[p][v], wl, name, VerdictNames[v])
				counter(ch, d.bytes, s.PortBytes[p][v], wl, name, VerdictNames[v])
			}
		}
		for r := 1; r < packet.NumReasons; r++ {
			counter(ch, d.drops, s.ByReason[r], wl, packet.DropReason(r).String())
		}
		for st := 0; st < ctstate.NumStates; st++ {
			counter(ch, d.ctState, s.ByState[st], wl, ctstate.State(st).String())
		}
		counter(ch, d.notTracked, s.NotTracked, wl)
		counter(ch, d.cacheHits, s.CacheHits, wl)
		counter(ch, d.txDropped, s.TxDropped, wl)
		counter(ch, d.rejectsSent, s.RejectsSent, wl)
		counter(ch, d.rejectsLimited, s.RejectsLimited, wl)
		counter(ch, d.handedOver, s.HandedOver, wl)
		counter(ch, d.handOverDropped, s.HandOverDropped, wl)
		counter(ch, d.logged, s.Logged, wl)
		counter(ch, d.logDropped, s.LogDropped, wl)
		if h, ok := burstHistogram(d.burst, s, wl); ok {
			ch <- h
		}
		// Rule counters of an older generation (a worker that has not yet
		// seen the new ruleset) are not added to the new rules.
		if s.RulesGeneration == rs.Generation && len(s.RulePackets) == nrules && len(s.RuleBytes) == nrules {
			for i := range nrules {
				rulePackets[i] += s.RulePackets[i]
				ruleBytes[i] += s.RuleBytes[i]
			}
		}
	}
	for i, name := range RuleLabels(rs.Rules) {
		counter(ch, d.rulePackets, rulePackets[i], name)
		counter(ch, d.ruleBytes, ruleBytes[i], name)
	}
	gauge(ch, d.rulesetGen, float64(rs.Generation))
}

// burstHistogram builds the burst-size histogram: the sum of burst sizes
// is the number of received frames, since every received frame is counted
// once in Packets.
func burstHistogram(d *prometheus.Desc, s *Counters, worker string) (prometheus.Metric, bool) {
	if len(s.BurstBuckets) == 0 || len(s.BurstSizes) != len(s.BurstBuckets)+1 {
		return nil, false
	}
	buckets := make(map[float64]uint64, len(s.BurstBuckets))
	var cum uint64
	for i, ub := range s.BurstBuckets {
		cum += s.BurstSizes[i]
		buckets[float64(ub)] = cum
	}
	cum += s.BurstSizes[len(s.BurstBuckets)]
	h, err := prometheus.NewConstHistogram(d, cum, float64(s.Packets), buckets, worker)
	return h, err == nil
}

// RuleLabels returns the rule label value of each rule: its name, its
// 1-based position when it has none, PolicyRuleName for the last (the
// default policy), and a "#position" suffix where names repeat, so that
// every series is distinct.
func RuleLabels(rules []RuleInfo) []string {
	out := make([]string, len(rules))
	seen := make(map[string]bool, len(rules))
	for i, r := range rules {
		name := r.Name
		switch {
		case i == len(rules)-1:
			name = PolicyRuleName
		case name == "":
			name = strconv.Itoa(i + 1)
		}
		if seen[name] {
			name += "#" + strconv.Itoa(i+1)
		}
		seen[name] = true
		out[i] = name
	}
	return out
}

func (c *Collector) collectPorts(ch chan<- prometheus.Metric, ports []PortInfo) {
	d := c.d
	for _, p := range ports {
		up := 0.0
		if p.Up {
			up = 1
		}
		gauge(ch, d.portUp, up, p.Name)
		st := &p.Stats
		counter(ch, d.portRxPackets, st.RxPackets, p.Name)
		counter(ch, d.portRxBytes, st.RxBytes, p.Name)
		counter(ch, d.portTxPackets, st.TxPackets, p.Name)
		counter(ch, d.portTxBytes, st.TxBytes, p.Name)
		counter(ch, d.portRxMissed, st.RxMissed, p.Name)
		counter(ch, d.portRxErrors, st.RxErrors, p.Name)
		counter(ch, d.portTxErrors, st.TxErrors, p.Name)
		counter(ch, d.portTxDropped, st.TxDropped, p.Name)
		seen := make(map[string]bool, len(p.XStats))
		for _, x := range p.XStats {
			if seen[x.Name] {
				continue
			}
			seen[x.Name] = true
			counter(ch, d.xstat, x.Value, p.Name, x.Name)
		}
		for _, k := range p.ChecksumOffloads {
			gauge(ch, d.portCksum, 1, p.Name, k)
		}
	}
}

func (c *Collector) collectFlowTables(ch chan<- prometheus.Metric) {
	d := c.d
	for _, t := range c.src.FlowTables() {
		wl := strconv.Itoa(t.Worker)
		gauge(ch, d.ftCapacity, float64(t.Capacity), wl)
		gauge(ch, d.ftMemory, float64(t.MemoryBytes), wl)
		for _, p := range t.Protos {
			gauge(ch, d.ftEntries, float64(p.Entries), wl, p.Proto)
			counter(ch, d.ftInserts, p.Inserts, wl, p.Proto)
			counter(ch, d.ftEvictions, p.Evictions, wl, p.Proto)
			counter(ch, d.ftExpiries, p.Expiries, wl, p.Proto)
			counter(ch, d.ftFull, p.TableFull, wl, p.Proto)
		}
		for _, s := range t.TCPStates {
			gauge(ch, d.ftTCP, float64(s.Entries), wl, s.State)
		}
	}
}

func (c *Collector) collectExpectations(ch chan<- prometheus.Metric) {
	d := c.d
	e := c.src.Expectations()
	gauge(ch, d.expCurrent, float64(e.Current))
	gauge(ch, d.expCapacity, float64(e.Capacity))
	counter(ch, d.expCreated, e.Created)
	counter(ch, d.expMatched, e.Matched)
	counter(ch, d.expExpired, e.Expired)
	for _, r := range e.Refused {
		counter(ch, d.expRefused, r.Count, r.Reason)
	}
}

func (c *Collector) collectReload(ch chan<- prometheus.Metric) {
	d := c.d
	r := c.src.Reload()
	counter(ch, d.reload, r.Successes, "success")
	counter(ch, d.reload, r.Failures, "failure")
	if !r.LastSuccess.IsZero() {
		gauge(ch, d.reloadLast, float64(r.LastSuccess.UnixNano())/1e9)
	}
}
