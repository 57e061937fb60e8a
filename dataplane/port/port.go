// Package port defines how the pipeline receives and transmits bursts of
// frames, and the ports that need no DPDK: an in-memory port for tests and
// benchmarks, and a pcap-file port for offline replay. The DPDK ethdev port
// (dataplane/dpdk) implements the same interface.
package port

import "github.com/statewall/statewall/dataplane/packet"

// Frame is one received frame. Data points at the frame's bytes where the
// port keeps them (an mbuf's data room for DPDK, a Go buffer otherwise);
// the pipeline reads it in place and never keeps it past the burst.
type Frame struct {
	Data []byte
	// Handle is the port's own reference to the buffer (an rte_mbuf
	// pointer for DPDK); opaque to the pipeline.
	Handle uintptr
	// Timestamp is the capture time in nanoseconds since the Unix epoch for
	// file ports; 0 where the port has no timestamps (the worker's clock
	// is used instead).
	Timestamp int64
	// Verified says which of the frame's checksums the NIC verified and
	// found correct (DPDK RX checksum offload); the pipeline does not sum
	// those again (and marks those it summed). 0 where the port cannot
	// say: the pipeline verifies them itself.
	Verified Verified
}

// Verified is a set of checksums a NIC verified as correct on receipt.
// Only correct ones are reported: a checksum the NIC found wrong, or did
// not look at, the pipeline verifies (and drops or marks INVALID) itself,
// as Linux does with a driver's CHECKSUM_NONE.
type Verified uint8

const (
	// VerifiedIPv4 is the IPv4 header checksum of an IPv4 packet.
	VerifiedIPv4 Verified = 1 << iota
	// VerifiedL4 is the TCP or UDP checksum of an unfragmented packet
	// (Linux's CHECKSUM_UNNECESSARY).
	VerifiedL4
)

// Stats are a port's own counters, read by the metrics collector.
type Stats struct {
	RxPackets, RxBytes uint64
	TxPackets, TxBytes uint64
	RxMissed           uint64 // dropped by the NIC: no descriptors / no mbufs
	RxErrors, TxErrors uint64
	TxDropped          uint64 // handed to TxBurst but not sent (queue full)
}

// InPlace is implemented by ports that receive into a frame array of
// their own (a DPDK queue's, in C memory): RxInPlace receives up to max
// frames there and returns them, without RxBurst's copy into the
// caller's frames. They are valid until the queue's next receive; the
// caller may reorder and overwrite them.
type InPlace interface {
	RxInPlace(queue, max int) []Frame
}

// Port is a source and sink of frames. A queue is used by one worker only:
// RxBurst and TxBurst on the same queue are never called concurrently.
type Port interface {
	// Name identifies the port in logs and metrics.
	Name() string
	// LinkType is the framing of received frames.
	LinkType() packet.LinkType
	// RxBurst fills frames with up to len(frames) received frames and
	// returns how many. It returns 0 when nothing is pending (and, for
	// finite sources such as files, io.EOF-like exhaustion is reported by
	// Done).
	RxBurst(queue int, frames []Frame) int
	// TxBurst transmits frames (which may come from another port) and
	// takes ownership of the first n it returns; the caller must Free the
	// rest.
	TxBurst(queue int, frames []Frame) int
	// Free releases frames that will not be transmitted.
	Free(frames []Frame)
	// Done reports that a finite source has delivered its last frame.
	Done() bool
	// Stats returns the port's counters.
	Stats() Stats
}
