// Package packet reads network headers in place: zero-copy, allocation-free
// views over a frame (Ethernet, 802.1Q/802.1ad, IPv4, IPv6 with its
// extension headers, TCP, UDP, ICMP, ICMPv6 and the packet an ICMP error
// quotes). Every malformation maps to a named DropReason; no input panics.
package packet
