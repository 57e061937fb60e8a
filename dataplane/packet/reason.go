package packet

// DropReason names why a frame could not be parsed or tracked. It is an
// enum so the data path can count by it without allocating; ReasonNone
// means the frame is acceptable.
type DropReason uint8

// Drop reasons. Their String values are the label values of
// statewall_drops_total{reason=...} and the "reason" of replay output:
// keep them stable.
const (
	ReasonNone               DropReason = iota
	ReasonNotIP                         // not IPv4 or IPv6 (ARP, LLDP, unknown EtherType): passed through untracked or dropped by policy
	ReasonRuntFrame                     // shorter than the link header
	ReasonVLANTruncated                 // frame ends inside an 802.1Q/802.1ad tag
	ReasonIPv4Truncated                 // frame shorter than the IPv4 header
	ReasonIPv4BadVersion                // version nibble is not 4
	ReasonIPv4BadIHL                    // IHL below 5 or beyond the frame
	ReasonIPv4BadLength                 // total length below the header length or beyond the frame
	ReasonIPv4BadOptions                // malformed IPv4 options
	ReasonIPv4BadChecksum               // header checksum wrong (when checked)
	ReasonIPv6Truncated                 // frame shorter than the IPv6 header
	ReasonIPv6BadVersion                // version nibble is not 6
	ReasonIPv6BadLength                 // payload length beyond the frame
	ReasonIPv6ExtTruncated              // an extension header runs past the packet
	ReasonIPv6ExtLoop                   // too many extension headers (loop or abuse)
	ReasonIPv6BadHopOpts                // first hop-by-hop header ipv6_rcv refuses (bounds, padding, options: HopOptsValid)
	ReasonIPv6NoNextHeader              // the header chain ends in No Next Header: conntrack finds no transport
	ReasonBadFragment                   // fragment with impossible offset/length
	ReasonTCPTruncated                  // transport too short for the TCP header
	ReasonTCPBadOffset                  // TCP data offset below 5 or beyond the packet
	ReasonTCPBadOptions                 // malformed TCP options
	ReasonUDPTruncated                  // transport too short for the UDP header
	ReasonUDPBadLength                  // UDP length field below 8 or beyond the packet
	ReasonICMPTruncated                 // transport too short for the ICMP header
	ReasonICMPInnerTruncated            // ICMP error whose quoted packet is cut short
	ReasonICMPInnerBad                  // ICMP error whose quoted header is malformed
	ReasonBadAddress                    // martian source/destination (e.g. multicast source)

	// Reasons set by the tracker and the pipeline, after parsing.
	ReasonTCPInvalidFlags // flag combination not allowed
	ReasonTCPInvalidNew   // first packet of a flow that cannot start one
	ReasonTCPInvalidState // transition table says invalid
	ReasonTCPOutOfWindow  // sequence or ack outside the tracked window
	ReasonTCPInvalidRST   // RST with an unacceptable sequence number
	ReasonTCPBadSYNACK    // SYN|ACK that does not acknowledge the SYN
	ReasonICMPUnknownType // ICMP type that is neither query, reply nor error
	ReasonICMPUnsolicited // reply without a matching query
	ReasonICMPNoFlow      // error quoting no tracked connection
	ReasonICMPSpoofed     // error whose outer destination is not the quoted source
	ReasonTableFull       // no room for a new entry
	ReasonFragTimeout     // fragment held for reassembly expired
	ReasonFragOverlap     // overlapping or inconsistent fragments
	ReasonFragTableFull   // no room to hold a fragment
	ReasonFragHeld        // fragment held for reassembly (not a drop: counted)
	ReasonALGDrop         // the ALG dropped a partial or unparsable command
	ReasonALGExpectFull   // expectation table full: the command is dropped
	ReasonRuleDrop        // a rule or the policy dropped it
	ReasonRuleReject      // a rule rejected it
	ReasonTxFull          // the output queue was full
	ReasonBadChecksum     // TCP, UDP or ICMP checksum wrong (with [conntrack] checksum = true)
	reasonCount
)

// NumReasons is the number of distinct drop reasons, for counter arrays.
const NumReasons = int(reasonCount)

var reasonNames = [...]string{
	ReasonNone:               "",
	ReasonNotIP:              "not_ip",
	ReasonRuntFrame:          "runt_frame",
	ReasonVLANTruncated:      "vlan_truncated",
	ReasonIPv4Truncated:      "ipv4_truncated",
	ReasonIPv4BadVersion:     "ipv4_bad_version",
	ReasonIPv4BadIHL:         "ipv4_bad_ihl",
	ReasonIPv4BadLength:      "ipv4_bad_length",
	ReasonIPv4BadOptions:     "ipv4_bad_options",
	ReasonIPv4BadChecksum:    "ipv4_bad_checksum",
	ReasonIPv6Truncated:      "ipv6_truncated",
	ReasonIPv6BadVersion:     "ipv6_bad_version",
	ReasonIPv6BadLength:      "ipv6_bad_length",
	ReasonIPv6ExtTruncated:   "ipv6_ext_truncated",
	ReasonIPv6ExtLoop:        "ipv6_ext_loop",
	ReasonIPv6BadHopOpts:     "ipv6_bad_hopopts",
	ReasonIPv6NoNextHeader:   "ipv6_no_next_header",
	ReasonBadFragment:        "bad_fragment",
	ReasonTCPTruncated:       "tcp_truncated",
	ReasonTCPBadOffset:       "tcp_bad_offset",
	ReasonTCPBadOptions:      "tcp_bad_options",
	ReasonUDPTruncated:       "udp_truncated",
	ReasonUDPBadLength:       "udp_bad_length",
	ReasonICMPTruncated:      "icmp_truncated",
	ReasonICMPInnerTruncated: "icmp_inner_truncated",
	ReasonICMPInnerBad:       "icmp_inner_bad",
	ReasonBadAddress:         "bad_address",
	ReasonTCPInvalidFlags:    "tcp_invalid_flags",
	ReasonTCPInvalidNew:      "tcp_invalid_new",
	ReasonTCPInvalidState:    "tcp_invalid_state",
	ReasonTCPOutOfWindow:     "tcp_out_of_window",
	ReasonTCPInvalidRST:      "tcp_invalid_rst",
	ReasonTCPBadSYNACK:       "tcp_bad_synack",
	ReasonICMPUnknownType:    "icmp_unknown_type",
	ReasonICMPUnsolicited:    "icmp_unsolicited",
	ReasonICMPNoFlow:         "icmp_no_flow",
	ReasonICMPSpoofed:        "icmp_spoofed",
	ReasonTableFull:          "table_full",
	ReasonFragTimeout:        "frag_timeout",
	ReasonFragOverlap:        "frag_overlap",
	ReasonFragTableFull:      "frag_table_full",
	ReasonFragHeld:           "frag_held",
	ReasonALGDrop:            "alg_drop",
	ReasonALGExpectFull:      "alg_expect_full",
	ReasonRuleDrop:           "rule_drop",
	ReasonRuleReject:         "rule_reject",
	ReasonTxFull:             "tx_full",
	ReasonBadChecksum:        "bad_checksum",
}

// String returns the reason's stable snake_case name ("" for ReasonNone).
func (r DropReason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return "unknown"
}
