// Package perf holds the benchmark kit: Go benchmarks of the whole packet
// path over in-memory ports (this package), the traffic generator
// (perf/traffic, and perf/gen for capture files), and the scripts that run
// statewalld against dpdk-testpmd and Open vSwitch on DPDK virtual devices
// (perf/scripts), and Pktgen-DPDK scripts for a hardware tester with the
// firewall configuration they are written for (perf/pktgen). Figures and
// the commands that produced them are in RESULTS.md.
package perf
