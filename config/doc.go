// Package config loads the appliance's TOML configuration: bytes in, a
// validated *Config or an error out. Decoding is strict: unknown keys,
// wrong types, bad prefixes, empty port ranges, duplicate names, unknown
// set/port/role references and shadowed rules are errors, each naming the
// file, line and key path:
//
//	lab.toml:12: rule[3].dst[1]: invalid prefix "10.0.0.0/33"
//
// Loading never starts a dataplane; config imports no pipeline, port or
// DPDK code. Package config/rules compiles a Config's rules into the
// classifier, package config/reload swaps compiled rulesets at run time.
//
// # Schema
//
// Every section and key is optional; defaults are shown. Durations are
// integer seconds or strings ("120s", "1m30s", "5d"); sizes are integer
// bytes or strings ("256MiB", "2GiB").
//
//	[dataplane]
//	workers = 1                    # worker cores (defaults to len(lcores) when given)
//	lcores = [2, 3]                # DPDK lcore ids of the workers (optional; default: the
//	                               # EAL's -l list after the main lcore)
//	burst = 32                     # packets per RX burst, 1..512
//	flow_memory = "256MiB"         # flow tables of all workers together (3/4 IPv4, 1/4 IPv6),
//	                               # unless max_flows is set: then what it takes
//	hugepages = true               # back flow tables with hugepages
//	eal_args = []                  # extra DPDK EAL arguments
//	ipv4_checksum = "verify"       # IPv4 header checksums: "verify" drops a wrong one, as ip_rcv
//	                               # does; "zero-ok" also takes 0 (sender-side captures, whose
//	                               # transmit offload never filled the field); replay always
//	                               # takes 0, as captures are often sender-side
//	checksum_offload = true        # NICs verify IPv4, TCP and UDP checksums on receipt where
//	                               # they can (DPDK RX offload); those found correct are not
//	                               # summed again (Linux's CHECKSUM_UNNECESSARY)
//
//	[[port]]                       # repeated; the order gives the port index (0, 1, ...)
//	name = "lan"                   # required, unique
//	device = "0000:3b:00.0"        # required: PCI address or DPDK devargs ("net_af_packet0,iface=veth0")
//	role = "inside"                # free-form role rules and policy match
//	peer = "wan"                   # the paired port packets leave by; must name this port back
//	queues = 1                     # RX/TX queue pairs
//
//	[conntrack]
//	tcp_loose = true               # pick up connections mid-stream
//	tcp_be_liberal = false         # accept out-of-window segments
//	vlan_zones = false             # key connections by VLAN id too
//	checksum = false               # verify checksums, INVALID when wrong
//	max_flows = 0                  # connections of all workers and both families together, as
//	                               # nf_conntrack_max (each family's table can hold them all, as
//	                               # far as its memory goes); 0: what flow_memory holds
//
//	[conntrack.timeouts]           # Linux's sysctl names and defaults
//	tcp_syn_sent = "120s"   tcp_syn_recv = "60s"    tcp_established = "5d"
//	tcp_fin_wait = "120s"   tcp_close_wait = "60s"  tcp_last_ack = "30s"
//	tcp_time_wait = "120s"  tcp_close = "10s"       tcp_retrans = "300s"
//	tcp_unacknowledged = "300s"    udp = "30s"      udp_stream = "120s"
//	icmp = "30s"            generic = "600s"
//
//	[alg.ftp]
//	enabled = true
//	ports = [21]                   # control ports the helper attaches to
//	max_expected = 1               # expectations per control connection
//	expect_timeout = "300s"
//
//	[expectations]
//	max = 4096                     # shared expectation table capacity
//
//	[metrics]
//	listen = "127.0.0.1:9469"      # Prometheus endpoint; "" disables
//
//	[control]
//	socket = "/run/statewall/control.sock"
//	mode = "0600"
//
//	[reload]
//	existing = "recheck"           # or "keep": cached verdicts survive reloads
//	watch = true                   # reload when the file changes
//
//	[log]
//	level = "info"                 # debug, info, warn, error
//	format = "text"                # text, json
//
//	[reject]
//	rate = 100                     # RSTs/ICMP unreachables per second per worker (0: reject acts as drop)
//	burst = 200
//
//	[sets.servers]                 # an address set: IPv4 and IPv6 prefixes or addresses
//	addresses = ["198.19.0.0/24", "fd00:0:0:2::/64"]
//	[sets.web]                     # a port set: ports and "lo-hi" ranges
//	ports = [80, 8080, "8000-8100"]
//
//	[policy]                       # the verdict when no rule matched
//	forward = "drop"               # accept, drop, reject
//	log = false
//	[policy.in_role]               # overrides by the input port's role
//	outside = "drop"
//
//	[[notrack]]                    # pre-tracking exemptions (iptables' raw table),
//	name = "snmp"                  # same match keys as rules except ct_state and
//	proto = "udp"                  # ct_direction; no action or log
//	dport = 161
//
//	[[rule]]                       # ordered; the first match decides
//	name = "web"                   # required, unique across rules and notrack rules
//	action = "accept"              # required: accept, drop, reject (TCP RST, else ICMP port unreachable)
//	log = false
//	comment = ""
//	ct_state = ["NEW"]             # NEW ESTABLISHED RELATED INVALID UNTRACKED; "ESTABLISHED,RELATED" works too
//	ct_direction = "original"      # or "reply"
//	proto = "tcp"                  # name (tcp udp icmp icmpv6 gre esp ah sctp) or number, or a list
//	src = ["198.18.0.0/15", "@set"] # prefixes, addresses, @address-set references
//	dst = "fd00::/8"
//	sport = [1024, "2000-3000", "@portset"]  # needs proto tcp and/or udp
//	dport = 80
//	in_port = "lan"                # port names
//	out_port = "wan"               # the input port's peer must be one of these
//	in_role = "inside"             # roles of the input port
//	out_role = "outside"           # roles of the input port's peer
//	icmp_type = "echo-request"     # name or number, or a list; needs proto icmp or icmpv6 (one)
//	icmp_code = 0                  # needs icmp_type
//	tcp_flags = "syn,!ack"         # flags that must be set, "!" for clear; needs proto tcp
//	vlan = [100, "200-299", "untagged"]  # the outermost tag's id
//
// A match key left out matches anything; lists match any element. A rule
// is shadowed (an error) when one earlier rule matches every packet it
// matches; shadowing by several earlier rules together is not detected.
package config
