package config

import (
	"net/netip"
	"time"

	"github.com/statewall/statewall/flowtable/ctstate"
)

// Config is a whole validated appliance configuration.
type Config struct {
	File         string // the file name errors and summaries refer to
	Dataplane    Dataplane
	Ports        []Port // in file order; a port's index is the pipeline's port number
	Conntrack    Conntrack
	FTP          FTP
	Expectations Expectations
	Metrics      Metrics
	Control      Control
	Reload       Reload
	Log          Log
	Reject       RejectLimit
	AddrSets     map[string]AddrSet
	PortSets     map[string]PortSet
	Policy       Policy
	Rules        []Rule // the filter rules, first match wins
	NoTrack      []Rule // the pre-tracking exemptions; Action is unused

	pos *positions // where each key is, for errors found after loading
}

// Dataplane holds the [dataplane] section: cores, bursts and memory.
type Dataplane struct {
	Workers    int      // worker cores; 0 means one per lcore listed, else 1
	Lcores     []int    // explicit DPDK lcore ids for the workers (optional)
	Burst      int      // packets per RX burst
	FlowMemory uint64   // bytes for all workers' flow tables together (unless Conntrack.MaxFlows sizes them)
	Hugepages  bool     // back flow tables with hugepages
	EALArgs    []string // extra DPDK EAL arguments
	// IPv4ChecksumZeroOK takes an IPv4 header checksum of 0 for one a
	// transmit offload never filled in (captures taken on the sender)
	// instead of a wrong one, which ip_rcv drops.
	IPv4ChecksumZeroOK bool
	// ChecksumOffload has the NICs verify IPv4, TCP and UDP checksums on
	// receipt where they can; the firewall then does not sum those again.
	ChecksumOffload bool
}

// Port holds one [[port]] entry.
type Port struct {
	Name   string // unique name rules and metrics use
	Device string // DPDK devargs or PCI address ("0000:3b:00.0", "net_af_packet0,iface=veth0")
	Role   string // free-form role rules match with in_role/out_role ("inside", "outside")
	Peer   string // name of the paired port packets leave by ("" for none)
	Queues int    // RX/TX queue pairs
}

// Conntrack holds the [conntrack] section.
type Conntrack struct {
	TCPLoose     bool   // pick up established connections mid-stream
	TCPBeLiberal bool   // accept out-of-window segments instead of marking them INVALID
	VLANZones    bool   // key connections by VLAN id as well
	Checksum     bool   // verify checksums and mark bad packets INVALID
	MaxFlows     uint64 // connections of both families together; 0 derives it from Dataplane.FlowMemory
	Timeouts     Timeouts
}

// Timeouts are the per-state entry timeouts, named as Linux's sysctls.
type Timeouts struct {
	TCPSynSent, TCPSynRecv, TCPEstablished, TCPFinWait, TCPCloseWait,
	TCPLastAck, TCPTimeWait, TCPClose, TCPRetrans, TCPUnacknowledged,
	UDP, UDPStream, ICMP, Generic time.Duration
}

// FTP holds the [alg.ftp] section.
type FTP struct {
	Enabled       bool
	Ports         []uint16 // control ports the helper attaches to
	MaxExpected   int      // expectations per control connection
	ExpectTimeout time.Duration
}

// Expectations holds the [expectations] section.
type Expectations struct {
	Max int // capacity of the shared expectation table
}

// Metrics holds the [metrics] section.
type Metrics struct {
	Listen string // host:port of the Prometheus endpoint; "" disables it
}

// Control holds the [control] section.
type Control struct {
	Socket string // path of the control API's unix socket
	Mode   uint32 // file mode of the socket
}

// Existing says what a reload does to verdicts cached in flow entries.
type Existing uint8

// Reload policies for existing connections.
const (
	ExistingRecheck Existing = iota // cached verdicts die with the old generation
	ExistingKeep                    // connections keep the verdict they were given
)

// String returns the policy as the config spells it.
func (e Existing) String() string {
	if e == ExistingKeep {
		return "keep"
	}
	return "recheck"
}

// Reload holds the [reload] section.
type Reload struct {
	Existing Existing
	Watch    bool // reload when the file changes
}

// Log holds the [log] section.
type Log struct {
	Level  string // "debug", "info", "warn", "error"
	Format string // "text" or "json"
}

// RejectLimit holds the [reject] section: the rate limit on generated RSTs and
// ICMP unreachables.
type RejectLimit struct {
	Rate  int // replies per second per worker; 0 disables replies (reject acts as drop)
	Burst int // token bucket depth
}

// AddrSet is a named set of IPv4 and IPv6 prefixes ([sets.NAME] addresses).
type AddrSet struct {
	Prefixes []netip.Prefix
}

// PortSet is a named set of port ranges ([sets.NAME] ports).
type PortSet struct {
	Ranges []Range
}

// Action is what a rule or policy does with a packet.
type Action uint8

// Actions.
const (
	Accept Action = iota
	Drop
	Reject
)

// String returns the action as the config spells it.
func (a Action) String() string {
	switch a {
	case Accept:
		return "accept"
	case Drop:
		return "drop"
	case Reject:
		return "reject"
	}
	return "unknown"
}

// Policy holds the [policy] section: the verdict for packets no rule matched.
type Policy struct {
	Forward Action            // default for every port
	Log     bool              // log packets the policy decides
	InRole  map[string]Action // overrides by the input port's role
}

// For returns the policy verdict for packets arriving on port index in.
func (p *Policy) For(ports []Port, in int) Action {
	if in >= 0 && in < len(ports) {
		if a, ok := p.InRole[ports[in].Role]; ok {
			return a
		}
	}
	return p.Forward
}

// Rule is one [[rule]] or [[notrack]] entry.
type Rule struct {
	Name   string
	Action Action
	Log    bool
	Match  Match
	Line   int // line of the entry's header in the file, 0 if unknown
}

// Direction is a rule's ct_direction match.
type Direction uint8

// Direction matches.
const (
	DirAny Direction = iota
	DirOriginal
	DirReply
)

// String returns the direction as the config spells it ("any" for none).
func (d Direction) String() string {
	switch d {
	case DirOriginal:
		return "original"
	case DirReply:
		return "reply"
	}
	return "any"
}

// Range is an inclusive range of 16-bit values (ports, VLAN ids, ICMP
// type<<8|code).
type Range struct{ Lo, Hi uint16 }

// Contains reports whether v lies in r.
func (r Range) Contains(v uint16) bool { return r.Lo <= v && v <= r.Hi }

// VLANUntagged is the VLAN match value of a packet without a tag.
const VLANUntagged = 4096

// Match is a rule's match: a packet matches when every field does. Each
// field's zero value (empty list, zero set, zero mask) matches anything;
// loading never produces an empty list that was meant to match nothing.
type Match struct {
	States        ctstate.Set    // ct_state
	Direction     Direction      // ct_direction
	Protos        []uint8        // proto
	Src, Dst      []netip.Prefix // src, dst with sets expanded (IPv4 and IPv6)
	SrcPorts      []Range        // sport with sets expanded
	DstPorts      []Range        // dport with sets expanded
	InPorts       []uint16       // in_port/in_role/out_port/out_role resolved to input port indexes
	ICMP          []Range        // icmp_type/icmp_code as type<<8|code ranges
	TCPFlagsMask  uint8          // tcp_flags: bits examined
	TCPFlagsValue uint8          // tcp_flags: their required values
	VLAN          []Range        // vlan ids 0..4095, VLANUntagged for none
}
