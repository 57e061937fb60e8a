// Package packet reads network headers in place: zero-copy, allocation-free
// views over a frame (Ethernet, 802.1Q/802.1ad, Linux cooked captures,
// BSD loopback, IPv4, IPv6 with its extension headers, TCP, UDP, ICMP,
// ICMPv6 and the packet an ICMP error quotes). Every malformation maps to
// a named DropReason; no input panics.
//
// Parse fills a Parsed for the engine; the views (IPv4, IPv6, TCP, ...)
// are also usable alone: each has one checking constructor (NewIPv4,
// NewTCP, ...) after which its accessors need no bounds checks. The
// checks follow Linux: what ip_rcv/ipv6_rcv refuse before netfilter
// (DropReason.IPLayerDrop), and what conntrack's per-protocol error
// handlers call a truncated or malformed packet; anything Linux lets
// through is accepted here too (TCP options are read leniently, IPv4
// options are checked only on request, the IPv4 header checksum per
// Options.IPv4Checksum).
package packet
