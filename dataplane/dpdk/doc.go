// Package dpdk is the thin cgo layer over DPDK 22.11 that the daemon uses
// for packet I/O: EAL start-up, mbuf pools per NUMA socket, ethdev ports
// (configure, queues, start/stop, promiscuous mode, link status, symmetric
// RSS, counters and xstats), single-producer/single-consumer rings for
// software distribution between workers, and DPDK memory for the flow
// tables.
//
// The fast path makes one cgo call per burst: RxBurst, TxBurst, Free,
// Ring.Enqueue and Ring.Dequeue each cross into C once and move mbuf
// pointers through per-queue arrays held in C memory, so nothing is
// allocated in Go per burst. Received frames are read in place: a Frame's
// Data is a slice over the mbuf's data room and its Handle is the mbuf.
// The C layer writes a burst's frames laid out as port.Frame, so RxBurst
// copies them whole, and RxInPlace (port.InPlace, which the pipeline
// prefers) hands out the queue's own array without a copy.
//
// DPDK's EAL is process-wide and cannot be initialised a second time in the
// same process, even after Cleanup: call Init once (tests share one EAL
// through TestMain). Everything else (pools, ports, rings, memory) is an
// object that can be created and released any number of times.
//
// The package needs cgo and libdpdk-dev (pkg-config libdpdk): DPDK's
// shared libraries by default, its static ones with the build tag
// dpdk_static (link_static.go; deploy/build-statewalld.sh builds the
// daemon so). Only the daemon imports it; the rest of the module builds
// with CGO_ENABLED=0.
// Without cgo, or with the build tag nodpdk, only the pure-Go helpers
// (DeviceMbufs) remain.
//
// Worker goroutines lock themselves to their OS thread, pin it
// (PinThread) and should call EAL.RegisterThread so that mempool
// operations from it use a per-lcore cache (about 15% more I/O throughput
// in BenchmarkNullRxTx).
package dpdk
