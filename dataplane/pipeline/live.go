package pipeline

import (
	"github.com/statewall/statewall/config"
	"github.com/statewall/statewall/flowtable/conntrack"
)

// TrackerTunables are the tracker settings of a [conntrack] section: its
// timeouts and TCP switches, named after Linux's sysctls.
func TrackerTunables(c *config.Conntrack) conntrack.Tunables {
	t := c.Timeouts
	return conntrack.Tunables{
		TCPLoose:     c.TCPLoose,
		TCPBeLiberal: c.TCPBeLiberal,
		Timeouts: conntrack.Timeouts{
			TCPSynSent: t.TCPSynSent, TCPSynRecv: t.TCPSynRecv, TCPEstablished: t.TCPEstablished,
			TCPFinWait: t.TCPFinWait, TCPCloseWait: t.TCPCloseWait, TCPLastAck: t.TCPLastAck,
			TCPTimeWait: t.TCPTimeWait, TCPClose: t.TCPClose, TCPMaxRetrans: t.TCPRetrans,
			TCPUnacknowledged: t.TCPUnacknowledged, UDP: t.UDP, UDPStream: t.UDPStream,
			ICMP: t.ICMP, ICMPv6: t.ICMP, Generic: t.Generic,
		},
	}
}

// applyLive takes on the settings a reload may change besides the
// ruleset, where next (the new ruleset's configuration) differs from
// prev (the one the worker followed): the conntrack timeouts and TCP
// switches, checksum verification ([conntrack] checksum) and the reject
// rate. The reload controller refuses a file that changes anything else
// (config.RestartNeeded). Comparing the two configurations, rather than
// setting every value, leaves alone a worker built with settings of its
// own (tests, replay) while its rulesets keep them.
func (w *Worker) applyLive(prev, next *config.Config) {
	p, n := &prev.Conntrack, &next.Conntrack
	if p.TCPLoose != n.TCPLoose || p.TCPBeLiberal != n.TCPBeLiberal || p.Timeouts != n.Timeouts {
		// Parsed configurations are within the tracker's ranges; were one
		// not, the tracker would keep its settings.
		_ = w.tracker.Retune(TrackerTunables(n))
	}
	if p.Checksum != n.Checksum {
		w.cfg.VerifyChecksums = n.Checksum
	}
	if prev.Reject != next.Reject {
		w.cfg.RejectRate, w.cfg.RejectBurst = next.Reject.Rate, next.Reject.Burst
	}
}
