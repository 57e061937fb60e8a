//go:build linux && cgo && !nodpdk

package dpdk

/*
#cgo noescape sw_free_bulk
#cgo nocallback sw_free_bulk
#cgo noescape sw_rx_burst
#cgo nocallback sw_rx_burst
#cgo noescape sw_tx_burst
#cgo nocallback sw_tx_burst
#include <stdlib.h>
#include <string.h>
#include <rte_ethdev.h>
#include "sw_dpdk.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"sync/atomic"
	"syscall"
	"unsafe"

	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/dataplane/port"
	"github.com/statewall/statewall/dataplane/rss"
)

// Defaults for PortConfig fields left zero.
const (
	DefaultDescriptors = 1024 // RX and TX ring descriptors per queue
	DefaultBurst       = 64   // frames per RxBurst/TxBurst call
)

// RSS hash functions requested when symmetric RSS is enabled (intersected
// with what the device supports): the IP addresses only, so that every
// packet between two hosts (both directions, and every fragment of a
// datagram, which has no ports to hash) reaches one queue; ICMP errors,
// hashed on their outer addresses, are handed to their connection's
// worker in software (dataplane/rss).
const rssHashFunctions = C.RTE_ETH_RSS_IP

// SymmetricRSSKey returns the Toeplitz key that makes RSS symmetric: the
// 16-bit pattern 0x6d5a repeated, so that both directions of a connection
// hash alike. n is the key length (40 bytes for most NICs, 52 for i40e).
func SymmetricRSSKey(n int) []byte { return rss.SymmetricKey(n) }

// PortConfig is how OpenPort sets up an ethdev.
type PortConfig struct {
	RxQueues, TxQueues int      // default 1 each
	RxDescriptors      int      // per RX queue; default DefaultDescriptors
	TxDescriptors      int      // per TX queue; default DefaultDescriptors
	Pool               *Mempool // mbufs for received frames (required)
	Burst              int      // largest burst per call; default DefaultBurst
	Promiscuous        bool     // receive frames for any MAC (bump-in-the-wire)
	// RSS asks for symmetric RSS over the RX queues. It is applied only if
	// the device reports RSS offloads and RxQueues > 1; Port.RSS says
	// whether it was.
	RSS bool
	MTU int // 0 leaves the device default
	// ChecksumOffload has the device verify IPv4 header, TCP and UDP
	// checksums on receipt, those of them it can (Port.ChecksumOffloads);
	// the frames then say which were correct (port.Frame.Verified).
	ChecksumOffload bool
}

// rxChecksumOffloads are the receive checksum offloads ChecksumOffload
// asks for, with the names Port.ChecksumOffloads gives them.
var rxChecksumOffloads = []struct {
	bit  uint64
	name string
}{{C.RTE_ETH_RX_OFFLOAD_IPV4_CKSUM, "ipv4"}, {C.RTE_ETH_RX_OFFLOAD_TCP_CKSUM, "tcp"}, {C.RTE_ETH_RX_OFFLOAD_UDP_CKSUM, "udp"}}

// DevInfo describes an ethdev.
type DevInfo struct {
	Name        string // ethdev name (net_pcap0, 0000:01:00.0)
	Driver      string
	MaxRxQueues int
	MaxTxQueues int
	RSSOffloads uint64 // RTE_ETH_RSS_* flow types the device can hash; 0: no RSS
	RETASize    int    // redirection table entries
	HashKeySize int    // RSS key length in bytes (0: device default, 40)
	RxOffloads  uint64
	TxOffloads  uint64
	MaxRxPktLen int
	MinMTU      int
	MaxMTU      int
	Socket      int // NUMA socket, -1 when unknown (virtual devices)
}

// Link is an ethdev's link status.
type Link struct {
	Up         bool
	SpeedMbps  uint32
	FullDuplex bool
	Autoneg    bool
}

// String renders the link like "up 10000 Mbps full-duplex".
func (l Link) String() string {
	if !l.Up {
		return "down"
	}
	d := "half-duplex"
	if l.FullDuplex {
		d = "full-duplex"
	}
	return fmt.Sprintf("up %d Mbps %s", l.SpeedMbps, d)
}

// XStat is one extended statistic of a port.
type XStat struct {
	Name  string
	Value uint64
}

// QueueStats are the counters of one queue (devices report up to 16).
type QueueStats struct {
	RxPackets, RxBytes, RxErrors uint64
	TxPackets, TxBytes           uint64
	RxMultiSeg                   uint64 // multi-segment frames dropped on receive
	TxDropped                    uint64 // handed to TxBurst but not sent
}

// queue is one queue's C state and the Go counters its owner writes.
type queue struct {
	q      *C.struct_sw_queue
	handle C.uintptr_t  // q, for the burst calls
	frames []port.Frame // over q.frames (C memory; see cFrames)
	tx     []uintptr    // over q.tx_mbufs (C memory)
	// txDropped is written only by the queue's owner (load+store, no
	// read-modify-write) and read by Stats.
	txDropped atomic.Uint64
	_         [64]byte // keep owners' counters on separate cache lines
}

// Port is a started or stopped DPDK ethdev. It implements port.Port; a
// queue is used by one worker at a time.
type Port struct {
	id      uint16
	name    string
	info    DevInfo
	queues  []*queue
	nrx     int
	ntx     int
	burst   int
	rss     bool
	rssKey  []byte
	rssHF   uint64
	rxOff   uint64 // receive offloads enabled (RTE_ETH_RX_OFFLOAD_*)
	promisc bool
	started bool
	closed  bool
}

var _ port.Port = (*Port)(nil)

// PortID returns the port id of the ethdev that devargs names, probing the
// device (rte_dev_probe) if it does not exist yet. devargs is a PCI address
// ("0000:01:00.0") or a virtual device with its arguments
// ("net_pcap0,rx_pcap=in.pcap,tx_pcap=out.pcap", "net_null0",
// "net_af_packet0,iface=veth0", "net_af_xdp0,iface=eth1"). probed reports
// whether this call created the device.
func (e *EAL) PortID(devargs string) (id uint16, probed bool, err error) {
	name := devName(devargs)
	if name == "" {
		return 0, false, fmt.Errorf("dpdk: empty devargs")
	}
	cdev, cname := C.CString(devargs), C.CString(name)
	defer C.free(unsafe.Pointer(cdev))
	defer C.free(unsafe.Pointer(cname))
	var pid C.uint16_t
	var p C.int
	if ret := C.sw_port_by_devargs(cdev, cname, &pid, &p); ret < 0 {
		return 0, false, fmt.Errorf("dpdk: probe %q: %w", devargs, syscall.Errno(-ret))
	}
	return uint16(pid), p != 0, nil
}

// DeviceInfo returns what the ethdev with this port id reports about itself.
func (e *EAL) DeviceInfo(id uint16) (DevInfo, error) {
	var ci C.struct_sw_dev_info
	if ret := C.sw_dev_info(C.uint16_t(id), &ci); ret != 0 {
		return DevInfo{}, fmt.Errorf("dpdk: port %d info: %w", id, syscall.Errno(-ret))
	}
	return DevInfo{
		Name:        C.GoString(&ci.name[0]),
		Driver:      C.GoString(&ci.driver[0]),
		MaxRxQueues: int(ci.max_rxq),
		MaxTxQueues: int(ci.max_txq),
		RSSOffloads: uint64(ci.rss_offloads),
		RETASize:    int(ci.reta_size),
		HashKeySize: int(ci.key_size),
		RxOffloads:  uint64(ci.rx_offload_capa),
		TxOffloads:  uint64(ci.tx_offload_capa),
		MaxRxPktLen: int(ci.max_rx_pktlen),
		MinMTU:      int(ci.min_mtu),
		MaxMTU:      int(ci.max_mtu),
		Socket:      int(ci.socket),
	}, nil
}

// OpenPort probes (if needed) and configures the ethdev named by devargs
// (see PortID) with its RX/TX queues; the port is not started. Close
// releases it.
func (e *EAL) OpenPort(devargs string, cfg PortConfig) (*Port, error) {
	if cfg.Pool == nil {
		return nil, fmt.Errorf("dpdk: port %q: no mbuf pool", devargs)
	}
	cfg = withDefaults(cfg)
	id, _, err := e.PortID(devargs)
	if err != nil {
		return nil, err
	}
	p := &Port{id: id, nrx: cfg.RxQueues, ntx: cfg.TxQueues, burst: cfg.Burst, promisc: cfg.Promiscuous}
	fail := func(err error) (*Port, error) {
		p.release()
		return nil, err
	}
	if p.info, err = e.DeviceInfo(id); err != nil {
		return fail(err)
	}
	p.name = p.info.Name
	if cfg.RxQueues > p.info.MaxRxQueues || cfg.TxQueues > p.info.MaxTxQueues {
		return fail(fmt.Errorf("dpdk: port %s: %d rx / %d tx queues asked, device has %d / %d",
			p.name, cfg.RxQueues, cfg.TxQueues, p.info.MaxRxQueues, p.info.MaxTxQueues))
	}
	var cc C.struct_sw_port_conf
	cc.nb_rxq, cc.nb_txq = C.uint16_t(cfg.RxQueues), C.uint16_t(cfg.TxQueues)
	cc.nb_rxd, cc.nb_txd = C.uint16_t(cfg.RxDescriptors), C.uint16_t(cfg.TxDescriptors)
	cc.mtu = C.uint32_t(cfg.MTU)
	if hf := p.info.RSSOffloads & rssHashFunctions; cfg.RSS && cfg.RxQueues > 1 && hf != 0 {
		keyLen := p.info.HashKeySize
		if keyLen == 0 {
			keyLen = 40
		}
		if keyLen > len(cc.key) {
			return fail(fmt.Errorf("dpdk: port %s: RSS key of %d bytes not supported", p.name, keyLen))
		}
		key := SymmetricRSSKey(keyLen)
		for i, b := range key {
			cc.key[i] = C.uint8_t(b)
		}
		cc.key_len = C.uint8_t(keyLen)
		cc.rss, cc.rss_hf = 1, C.uint64_t(hf)
		p.rss, p.rssKey, p.rssHF = true, key, hf
	}
	if cfg.ChecksumOffload {
		for _, o := range rxChecksumOffloads {
			p.rxOff |= p.info.RxOffloads & o.bit
		}
		cc.rx_offloads = C.uint64_t(p.rxOff)
	}
	socket := p.info.Socket
	if socket < 0 {
		socket = C.SOCKET_ID_ANY
	}
	var step, sq C.int
	if ret := C.sw_port_configure(C.uint16_t(id), &cc, cfg.Pool.p, C.int(socket), &step, &sq); ret != 0 {
		what := [...]string{"configure", "set MTU", "adjust descriptors", "RX queue setup", "TX queue setup"}[step]
		if step >= 3 {
			what = fmt.Sprintf("%s (queue %d)", what, sq)
		}
		err := fmt.Errorf("dpdk: port %s %s: %w", p.name, what, syscall.Errno(-ret))
		if step == 3 {
			if need, _ := DeviceMbufs(devargs); need > 0 {
				err = fmt.Errorf("%w: infinite_rx loads the %d-packet capture into the pool (%s, %d mbufs): size it with DeviceMbufs",
					err, need, cfg.Pool.Name(), cfg.Pool.Size())
			}
		}
		return fail(err)
	}
	n := max(cfg.RxQueues, cfg.TxQueues)
	for i := range n {
		cq := C.sw_queue_new(C.uint16_t(id), C.uint16_t(i), C.uint16_t(cfg.Burst), C.int(socket))
		if cq == nil {
			return fail(fmt.Errorf("dpdk: port %s queue %d: %w", p.name, i, syscall.ENOMEM))
		}
		if p.rxOff != 0 {
			cq.rx_cksum = 1
		}
		p.queues = append(p.queues, &queue{
			q:      cq,
			handle: C.uintptr_t(uintptr(unsafe.Pointer(cq))),
			frames: cFrames(cq.frames, cfg.Burst),
			tx:     unsafe.Slice((*uintptr)(unsafe.Pointer(cq.tx_mbufs)), cfg.Burst),
		})
	}
	return p, nil
}

func withDefaults(c PortConfig) PortConfig {
	if c.RxQueues <= 0 {
		c.RxQueues = 1
	}
	if c.TxQueues <= 0 {
		c.TxQueues = 1
	}
	if c.RxDescriptors <= 0 {
		c.RxDescriptors = DefaultDescriptors
	}
	if c.TxDescriptors <= 0 {
		c.TxDescriptors = DefaultDescriptors
	}
	if c.Burst <= 0 {
		c.Burst = DefaultBurst
	}
	c.Burst = min(c.Burst, 1024)
	return c
}

// Start starts the port, sets promiscuous mode if configured and, with
// RSS, spreads the redirection table over the RX queues.
func (p *Port) Start() error {
	if p.closed {
		return errClosed
	}
	if ret := C.rte_eth_dev_start(C.uint16_t(p.id)); ret != 0 {
		return fmt.Errorf("dpdk: port %s start: %w", p.name, syscall.Errno(-ret))
	}
	p.started = true
	if p.promisc {
		// Virtual devices may not support it (-ENOTSUP); that is harmless.
		if ret := C.rte_eth_promiscuous_enable(C.uint16_t(p.id)); ret != 0 && ret != -C.ENOTSUP {
			return fmt.Errorf("dpdk: port %s promiscuous: %w", p.name, syscall.Errno(-ret))
		}
	}
	if p.rss {
		// Some drivers take the key only through rss_hash_update.
		if ret := C.sw_rss_key_set(C.uint16_t(p.id), (*C.uint8_t)(unsafe.Pointer(&p.rssKey[0])), C.uint8_t(len(p.rssKey)),
			C.uint64_t(p.rssHF)); ret != 0 && ret != -C.ENOTSUP {
			return fmt.Errorf("dpdk: port %s RSS key: %w", p.name, syscall.Errno(-ret))
		}
		if ret := C.sw_port_set_reta(C.uint16_t(p.id), C.uint16_t(p.nrx), C.uint16_t(p.info.RETASize)); ret != 0 && ret != -C.ENOTSUP {
			return fmt.Errorf("dpdk: port %s RSS redirection table: %w", p.name, syscall.Errno(-ret))
		}
	}
	return nil
}

// Stop stops the port; it can be started again.
func (p *Port) Stop() error {
	if !p.started {
		return nil
	}
	p.started = false
	if ret := C.rte_eth_dev_stop(C.uint16_t(p.id)); ret != 0 {
		return fmt.Errorf("dpdk: port %s stop: %w", p.name, syscall.Errno(-ret))
	}
	return nil
}

var errClosed = errors.New("dpdk: port closed")

// Close stops and closes the port and frees its queues. A virtual device
// is removed, so that its name can be used again; a PCI device stays
// attached to DPDK.
func (p *Port) Close() error {
	if p.closed {
		return nil
	}
	err := p.Stop()
	p.release()
	return err
}

func (p *Port) release() {
	p.closed = true
	C.sw_port_remove(C.uint16_t(p.id))
	for _, q := range p.queues {
		C.sw_queue_free(q.q)
	}
	p.queues = nil
}

// ID is the DPDK port id.
func (p *Port) ID() uint16 { return p.id }

// Name is the ethdev name.
func (p *Port) Name() string { return p.name }

// Info is the device information read when the port was opened.
func (p *Port) Info() DevInfo { return p.info }

// RxQueues is the number of configured RX queues.
func (p *Port) RxQueues() int { return p.nrx }

// TxQueues is the number of configured TX queues.
func (p *Port) TxQueues() int { return p.ntx }

// RSS reports whether symmetric RSS spreads received frames over the RX
// queues; when false, one worker reads the port and distributes frames by
// software hash (see Ring).
func (p *Port) RSS() bool { return p.rss }

// ChecksumOffloads names the checksums the device verifies on receipt
// (PortConfig.ChecksumOffload): "ipv4", "tcp", "udp"; none when it
// verifies none or was not asked to.
func (p *Port) ChecksumOffloads() []string {
	var names []string
	for _, o := range rxChecksumOffloads {
		if p.rxOff&o.bit != 0 {
			names = append(names, o.name)
		}
	}
	return names
}

// LinkType is Ethernet: ethdevs carry Ethernet frames.
func (p *Port) LinkType() packet.LinkType { return packet.LinkEthernet }

// Done is always false: an ethdev is not a finite source (a net_pcap
// device without infinite_rx simply stops delivering).
func (p *Port) Done() bool { return false }

// RxBurst receives up to len(frames) frames (at most the configured burst)
// from an RX queue with one cgo call. Frames point into mbufs; each must be
// sent (TxBurst) or released (Free). Multi-segment frames are dropped and
// counted (QueueStats.RxMultiSeg).
func (p *Port) RxBurst(q int, frames []port.Frame) int {
	return copy(frames, p.RxInPlace(q, len(frames)))
}

// RxInPlace receives as RxBurst does, up to max frames, into the queue's
// own frame array (port.InPlace), and returns them: they are valid until
// the queue's next receive. RxBurst is RxInPlace and a copy.
func (p *Port) RxInPlace(q, max int) []port.Frame {
	qu := p.queues[q]
	n := int(C.sw_rx_burst(qu.handle, C.uint16_t(min(max, len(qu.frames)))))
	return qu.frames[:n]
}

// TxBurst transmits frames on a TX queue and returns how many the device
// took (it owns those); the caller frees the rest, which are counted as
// TxDropped. Handles must be mbufs (frames from a DPDK port or
// Mempool.Alloc); transmission stops at the first frame without one.
func (p *Port) TxBurst(q int, frames []port.Frame) int {
	qu := p.queues[q]
	sent := 0
	for sent < len(frames) {
		chunk := frames[sent:min(len(frames), sent+len(qu.tx))]
		tx := qu.tx[:len(chunk)]
		n := 0
		for n < len(chunk) && chunk[n].Handle != 0 {
			tx[n] = chunk[n].Handle
			n++
		}
		if n == 0 {
			break
		}
		got := int(C.sw_tx_burst(qu.handle, C.uint16_t(n)))
		sent += got
		if got < len(chunk) {
			break
		}
	}
	if d := len(frames) - sent; d > 0 {
		qu.txDropped.Store(qu.txDropped.Load() + uint64(d))
	}
	return sent
}

// freeChunk is how many handles Free passes to C per call, from a stack
// array (Free has no queue, so it cannot use a queue's C array).
const freeChunk = 64

// Free returns frames' mbufs to their pools, one cgo call per 64 frames.
func (p *Port) Free(frames []port.Frame) { FreeFrames(frames) }

// FreeFrames returns frames' mbufs to their pools (any DPDK port's frames).
func FreeFrames(frames []port.Frame) {
	var h [freeChunk]uintptr
	for len(frames) > 0 {
		n := 0
		for _, f := range frames[:min(len(frames), freeChunk)] {
			if f.Handle != 0 {
				h[n] = f.Handle
				n++
			}
		}
		frames = frames[min(len(frames), freeChunk):]
		if n > 0 {
			C.sw_free_bulk((*C.uintptr_t)(unsafe.Pointer(&h[0])), C.uint(n))
		}
	}
}

// RSSConfig returns the RSS key and hash functions (RTE_ETH_RSS_*) the
// device is using.
func (p *Port) RSSConfig() (key []byte, hashFunctions uint64, err error) {
	var buf [64]C.uint8_t
	keyLen := C.uint8_t(40)
	if p.info.HashKeySize > 0 {
		keyLen = C.uint8_t(min(p.info.HashKeySize, len(buf)))
	}
	var hf C.uint64_t
	if ret := C.sw_rss_key_get(C.uint16_t(p.id), &buf[0], &keyLen, &hf); ret != 0 {
		return nil, 0, fmt.Errorf("dpdk: port %s RSS configuration: %w", p.name, syscall.Errno(-ret))
	}
	key = make([]byte, min(int(keyLen), len(buf)))
	for i := range key {
		key[i] = byte(buf[i])
	}
	return key, uint64(hf), nil
}

// RETA returns the RSS redirection table: entry i is the RX queue of
// hash values whose low bits are i.
func (p *Port) RETA() ([]uint16, error) {
	n := p.info.RETASize
	if n == 0 {
		return nil, nil
	}
	out := make([]uint16, n)
	if ret := C.sw_reta_get(C.uint16_t(p.id), (*C.uint16_t)(unsafe.Pointer(&out[0])), C.uint16_t(n)); ret != 0 {
		return nil, fmt.Errorf("dpdk: port %s RETA: %w", p.name, syscall.Errno(-ret))
	}
	return out, nil
}

// Link returns the link status without waiting.
func (p *Port) Link() (Link, error) {
	var l C.struct_sw_link
	if ret := C.sw_link_get(C.uint16_t(p.id), &l); ret != 0 {
		return Link{}, fmt.Errorf("dpdk: port %s link: %w", p.name, syscall.Errno(-ret))
	}
	return Link{Up: l.up != 0, SpeedMbps: uint32(l.speed), FullDuplex: l.full_duplex != 0, Autoneg: l.autoneg != 0}, nil
}

func (p *Port) ethStats() (C.struct_rte_eth_stats, bool) {
	var s C.struct_rte_eth_stats
	return s, C.rte_eth_stats_get(C.uint16_t(p.id), &s) == 0
}

// Stats returns the device counters (rte_eth_stats) with this layer's own:
// RxMissed includes mbuf allocation failures, RxErrors includes dropped
// multi-segment frames, TxDropped is what TxBurst could not send.
func (p *Port) Stats() port.Stats {
	var st port.Stats
	if s, ok := p.ethStats(); ok {
		st = port.Stats{
			RxPackets: uint64(s.ipackets), RxBytes: uint64(s.ibytes),
			TxPackets: uint64(s.opackets), TxBytes: uint64(s.obytes),
			RxMissed: uint64(s.imissed) + uint64(s.rx_nombuf),
			RxErrors: uint64(s.ierrors), TxErrors: uint64(s.oerrors),
		}
	}
	for _, q := range p.queues {
		st.TxDropped += q.txDropped.Load()
		st.RxErrors += uint64(q.q.rx_multiseg)
	}
	return st
}

// QueueStats returns the counters of one queue. Device per-queue counters
// exist for the first 16 queues only.
func (p *Port) QueueStats(q int) QueueStats {
	qu := p.queues[q]
	qs := QueueStats{RxMultiSeg: uint64(qu.q.rx_multiseg), TxDropped: qu.txDropped.Load()}
	if s, ok := p.ethStats(); ok && q < C.RTE_ETHDEV_QUEUE_STAT_CNTRS {
		qs.RxPackets, qs.RxBytes, qs.RxErrors = uint64(s.q_ipackets[q]), uint64(s.q_ibytes[q]), uint64(s.q_errors[q])
		qs.TxPackets, qs.TxBytes = uint64(s.q_opackets[q]), uint64(s.q_obytes[q])
	}
	return qs
}

// ResetStats zeroes the device counters (not TxDropped/RxMultiSeg).
func (p *Port) ResetStats() error {
	if ret := C.rte_eth_stats_reset(C.uint16_t(p.id)); ret != 0 {
		return fmt.Errorf("dpdk: port %s stats reset: %w", p.name, syscall.Errno(-ret))
	}
	return nil
}

// XStats returns the device's extended statistics, names and values, in
// the device's order.
func (p *Port) XStats() ([]XStat, error) {
	id := C.uint16_t(p.id)
	n := C.rte_eth_xstats_get_names(id, nil, 0)
	if n < 0 {
		return nil, fmt.Errorf("dpdk: port %s xstats: %w", p.name, syscall.Errno(-n))
	}
	if n == 0 {
		return nil, nil
	}
	names := (*C.struct_rte_eth_xstat_name)(C.calloc(C.size_t(n), C.sizeof_struct_rte_eth_xstat_name))
	vals := (*C.struct_rte_eth_xstat)(C.calloc(C.size_t(n), C.sizeof_struct_rte_eth_xstat))
	defer C.free(unsafe.Pointer(names))
	defer C.free(unsafe.Pointer(vals))
	if got := C.rte_eth_xstats_get_names(id, names, C.uint(n)); got != n {
		return nil, fmt.Errorf("dpdk: port %s xstats names: got %d of %d", p.name, got, n)
	}
	got := C.rte_eth_xstats_get(id, vals, C.uint(n))
	if got < 0 || got > n {
		return nil, fmt.Errorf("dpdk: port %s xstats values: got %d of %d", p.name, got, n)
	}
	ns, vs := unsafe.Slice(names, int(n)), unsafe.Slice(vals, int(got))
	out := make([]XStat, 0, len(vs))
	for _, v := range vs {
		if v.id >= C.uint64_t(n) {
			continue
		}
		out = append(out, XStat{Name: C.GoString(&ns[v.id].name[0]), Value: uint64(v.value)})
	}
	return out, nil
}
