package packet

// IsParseFailure reports whether r is one of the reasons Parse returns
// (ReasonNotIP through ReasonBadAddress), as opposed to a tracker,
// reassembly or pipeline reason.
func (r DropReason) IsParseFailure() bool {
	return r >= ReasonNotIP && r <= ReasonBadAddress
}

// IPLayerDrop reports whether Linux refuses a frame with this parse
// failure before conntrack sees it: not IP, or dropped by ip_rcv/ipv6_rcv
// sanity checks or by defragmentation (the answer key's NONE). The other
// parse failures reach conntrack, which calls the packet INVALID
// ("truncated/malformed packet", or no layer-4 header found).
// ReasonIPv4BadOptions is among the latter: Linux checks options after
// the PREROUTING hook, then drops the packet.
func (r DropReason) IPLayerDrop() bool {
	switch r {
	case ReasonNotIP, ReasonRuntFrame, ReasonVLANTruncated,
		ReasonIPv4Truncated, ReasonIPv4BadVersion, ReasonIPv4BadIHL,
		ReasonIPv4BadLength, ReasonIPv4BadChecksum,
		ReasonIPv6Truncated, ReasonIPv6BadVersion, ReasonIPv6BadLength, ReasonIPv6BadHopOpts,
		ReasonBadFragment, ReasonBadAddress:
		return true
	}
	return false
}
