//go:build linux && cgo && !nodpdk

package dpdk

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/statewall/statewall/dataplane/packet/packettest"
	"github.com/statewall/statewall/dataplane/port"
	"github.com/statewall/statewall/dataplane/rss"
)

// testEAL is the one EAL of the test process (EAL cannot be initialised
// twice), set up by TestMain.
var testEAL *EAL

// testEALArgs run DPDK without hugepages, PCI or shared files, on lcore 0.
var testEALArgs = []string{"--no-huge", "--no-pci", "--no-shconf", "--no-telemetry",
	"-l", "0", "-m", "512", "--log-level=*:error"}

func TestMain(m *testing.M) {
	flag.Parse()
	e, err := Init(testEALArgs)
	if err != nil {
		fmt.Fprintf(os.Stderr, "dpdk: cannot initialise EAL: %v\n", err)
		if os.Getenv("CI") == "true" {
			os.Exit(1)
		}
		fmt.Fprintln(os.Stderr, "SKIP: dpdk tests need an EAL (run as root with libdpdk)")
		os.Exit(0)
	}
	testEAL = e
	code := m.Run()
	if err := e.Cleanup(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(code)
}

// newPool makes a pool with a name unique to the test.
func newPool(t testing.TB, n int) *Mempool {
	t.Helper()
	p, err := testEAL.NewMempool("p_"+t.Name(), n, 0, DefaultDataRoom, -1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// ringPair opens and starts two net_ring ports joined back to back (rings
// of 64 slots, which hold 63 frames), closed when the test ends.
func ringPair(t testing.TB, nameA, nameB string, cfg PortConfig) (a, b *Port) {
	t.Helper()
	rp, err := testEAL.NewRingPortPair(nameA, nameB, 64)
	if err != nil {
		t.Fatal(err)
	}
	a = openStarted(t, rp.A, cfg)
	b = openStarted(t, rp.B, cfg)
	t.Cleanup(rp.Close) // after the ports' cleanups (LIFO)
	return a, b
}

func openStarted(t testing.TB, devargs string, cfg PortConfig) *Port {
	t.Helper()
	p, err := testEAL.OpenPort(devargs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	})
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	return p
}

// testFrame is an Ethernet frame whose payload carries i.
func testFrame(i int) []byte {
	f := make([]byte, 60+i%200)
	copy(f, []byte{0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x88, 0xb5})
	binary.BigEndian.PutUint32(f[14:], uint32(i))
	for j := 18; j < len(f); j++ {
		f[j] = byte(i + j)
	}
	return f
}

func TestInitTwiceFails(t *testing.T) {
	if _, err := Init(testEALArgs); err == nil {
		t.Fatal("second Init succeeded; DPDK's EAL is once per process")
	}
}

func TestRingPairLoopback(t *testing.T) {
	pool := newPool(t, 1023)
	// Rings of 64 slots hold 63 frames: the rest of a 100-frame burst is
	// a counted TX drop.
	a, b := ringPair(t, "ringA", "ringB", PortConfig{Pool: pool, Burst: 128, Promiscuous: true})

	const n = 100
	tx := make([]port.Frame, n)
	for i := range tx {
		f, err := pool.Alloc(testFrame(i))
		if err != nil {
			t.Fatal(err)
		}
		tx[i] = f
	}
	sent := a.TxBurst(0, tx)
	if sent != 63 {
		t.Fatalf("sent %d of %d into a 63-frame ring", sent, n)
	}
	a.Free(tx[sent:])
	rx := make([]port.Frame, 128)
	got := b.RxBurst(0, rx)
	if got != sent {
		t.Fatalf("received %d, sent %d", got, sent)
	}
	for i := range got {
		want := testFrame(i)
		if !bytes.Equal(rx[i].Data, want) {
			t.Fatalf("frame %d: got % x, want % x", i, rx[i].Data, want)
		}
		if rx[i].Handle == 0 {
			t.Fatalf("frame %d has no mbuf handle", i)
		}
	}
	// Send them back the other way: frames of one port go out another.
	if back := b.TxBurst(0, rx[:got]); back != got {
		t.Fatalf("sent back %d of %d", back, got)
	}
	if again := a.RxBurst(0, rx); again != got {
		t.Fatalf("received back %d of %d", again, got)
	}
	a.Free(rx[:got])
	if u := pool.InUse(); u != 0 {
		t.Errorf("%d mbufs still in use", u)
	}

	// net_ring counts packets but not bytes; the bytes were compared above.
	sa, sb := a.Stats(), b.Stats()
	if sa.TxPackets != uint64(sent) || sa.TxDropped != n-63 {
		t.Errorf("port A stats %+v: want %d tx packets, %d tx dropped", sa, sent, n-63)
	}
	if sb.RxPackets != uint64(sent) {
		t.Errorf("port B stats %+v: want %d rx packets", sb, sent)
	}
	if q := a.QueueStats(0); q.TxDropped != n-63 {
		t.Errorf("queue stats %+v: want %d tx dropped", q, n-63)
	}
}

// TestRxChecksumFlags sends mbufs marked as a NIC's checksum offload marks
// them through a net_ring pair: the received frames say which checksums
// were found correct, and nothing else (a bad or unknown one, or any of a
// tunnel packet, whose flags are its inner headers').
func TestRxChecksumFlags(t *testing.T) {
	pool := newPool(t, 255)
	// net_ring has no checksum offload: asking for it enables nothing, and
	// its frames say nothing of the mbufs' flags (a net_ring carries what
	// its sender marked) until the queues read them as an offloading
	// device's do.
	a, b := ringPair(t, "csumA", "csumB", PortConfig{Pool: pool, Burst: 32, ChecksumOffload: true})
	if got := b.ChecksumOffloads(); len(got) != 0 {
		t.Errorf("net_ring checksum offloads %v, want none", got)
	}
	f, err := pool.Alloc(testFrame(0))
	if err != nil {
		t.Fatal(err)
	}
	markRxChecksums(f, 1, 1, false)
	if a.TxBurst(0, []port.Frame{f}) != 1 {
		t.Fatal("not sent")
	}
	got := b.RxInPlace(0, 32)
	if len(got) != 1 {
		t.Fatalf("received %d frames, sent 1", len(got))
	}
	if got[0].Verified != 0 {
		t.Errorf("without offload: verified %b", got[0].Verified)
	}
	b.Free(got)
	for _, p := range []*Port{a, b} {
		for _, q := range p.queues {
			q.q.rx_cksum = 1
		}
	}
	cases := []struct {
		ip, l4 int
		tunnel bool
		want   port.Verified
	}{
		{0, 0, false, 0},
		{1, 0, false, port.VerifiedIPv4},
		{0, 1, false, port.VerifiedL4},
		{1, 1, false, port.VerifiedIPv4 | port.VerifiedL4},
		{-1, 1, false, port.VerifiedL4},
		{1, -1, false, port.VerifiedIPv4},
		{-1, -1, false, 0},
		{1, 1, true, 0},
	}
	tx := make([]port.Frame, len(cases))
	for i, c := range cases {
		if tx[i], err = pool.Alloc(testFrame(i)); err != nil {
			t.Fatal(err)
		}
		if tx[i].Verified != 0 {
			t.Fatalf("allocated frame verified %b", tx[i].Verified)
		}
		markRxChecksums(tx[i], c.ip, c.l4, c.tunnel)
	}
	if sent := a.TxBurst(0, tx); sent != len(tx) {
		t.Fatalf("sent %d of %d", sent, len(tx))
	}
	rx := make([]port.Frame, 32)
	n := b.RxBurst(0, rx)
	if n != len(cases) {
		t.Fatalf("received %d of %d", n, len(cases))
	}
	for i, c := range cases {
		if rx[i].Verified != c.want {
			t.Errorf("ip %d, l4 %d, tunnel %v: verified %b, want %b", c.ip, c.l4, c.tunnel, rx[i].Verified, c.want)
		}
	}
	// In place, as the pipeline receives.
	for i := range cases {
		markRxChecksums(rx[i], 1, 1, false)
	}
	if sent := b.TxBurst(0, rx[:n]); sent != n {
		t.Fatalf("sent back %d of %d", sent, n)
	}
	back := a.RxInPlace(0, 32)
	for i := range back {
		if back[i].Verified != port.VerifiedIPv4|port.VerifiedL4 {
			t.Errorf("frame %d in place: verified %b", i, back[i].Verified)
		}
	}
	a.Free(back)
}

// pcapTotals counts the packets and bytes of a capture.
func pcapTotals(t *testing.T, path string) (packets, octets uint64) {
	t.Helper()
	for _, f := range packettest.ReadCapture(t, path) {
		packets++
		octets += uint64(len(f.Data))
	}
	return packets, octets
}

func TestPcapToNull(t *testing.T) {
	path := filepath.Join(packettest.SharedDir(t), "pcaps", "suricata-verify", "alg-ftp-all-data-ipv4.pcap")
	wantPkts, wantBytes := pcapTotals(t, path)
	pool := newPool(t, 2047)
	src := openStarted(t, "net_pcap0,rx_pcap="+path, PortConfig{Pool: pool})
	dst := openStarted(t, "net_null0", PortConfig{Pool: pool})
	if d := src.Info().Driver; d != "net_pcap" {
		t.Errorf("source driver %q, want net_pcap", d)
	}

	frames := make([]port.Frame, 32)
	var pkts, octets, sent uint64
	idle := time.Now()
	for pkts < wantPkts && time.Since(idle) < 2*time.Second {
		n := src.RxBurst(0, frames)
		if n == 0 {
			continue
		}
		idle = time.Now()
		for _, f := range frames[:n] {
			octets += uint64(len(f.Data))
		}
		pkts += uint64(n)
		s := dst.TxBurst(0, frames[:n])
		sent += uint64(s)
		dst.Free(frames[s:n])
	}
	if pkts != wantPkts || octets != wantBytes {
		t.Fatalf("read %d packets / %d bytes, capture has %d / %d", pkts, octets, wantPkts, wantBytes)
	}
	if sent != pkts {
		t.Errorf("null sink took %d of %d", sent, pkts)
	}
	ss, ds := src.Stats(), dst.Stats()
	if ss.RxPackets != wantPkts || ss.RxBytes != wantBytes {
		t.Errorf("source stats %+v, want %d packets %d bytes", ss, wantPkts, wantBytes)
	}
	if ds.TxPackets != sent || ds.TxDropped != 0 {
		t.Errorf("sink stats %+v, want %d packets sent, none dropped", ds, sent)
	}
	if u := pool.InUse(); u > 1024+64 { // the pcap RX ring keeps no mbufs; allow the null queue's
		t.Errorf("%d mbufs still in use", u)
	}
}

// TestReceiveFrames reads a capture with RxBurst and with RxInPlace: both
// hand out every frame byte for byte, its mbuf as the handle and no
// timestamp (struct sw_frame is laid out as port.Frame).
func TestReceiveFrames(t *testing.T) {
	path := filepath.Join(packettest.SharedDir(t), "pcaps", "suricata-verify", "alg-ftp-all-data-ipv4.pcap")
	want := packettest.ReadCapture(t, path)
	pool := newPool(t, 2047)
	for i, inPlace := range []bool{false, true} {
		src := openStarted(t, fmt.Sprintf("net_pcap%d,rx_pcap=%s", 2+i, path), PortConfig{Pool: pool})
		buf := make([]port.Frame, 32)
		got := 0
		for idle := time.Now(); got < len(want) && time.Since(idle) < 2*time.Second; {
			var frames []port.Frame
			if inPlace {
				frames = src.RxInPlace(0, 32)
			} else {
				frames = buf[:src.RxBurst(0, buf)]
			}
			if len(frames) > 0 {
				idle = time.Now()
			}
			for _, f := range frames {
				if got == len(want) {
					t.Fatalf("in place %v: more frames than the capture's %d", inPlace, len(want))
				}
				if w := want[got].Data; !bytes.Equal(f.Data, w) || f.Handle == 0 || f.Timestamp != 0 || cap(f.Data) != len(f.Data) {
					t.Fatalf("in place %v: frame %d: %d bytes, handle %#x, timestamp %d; want %d bytes % x",
						inPlace, got, len(f.Data), f.Handle, f.Timestamp, len(w), w[:min(len(w), 16)])
				}
				got++
			}
			src.Free(frames)
		}
		if got != len(want) {
			t.Errorf("in place %v: %d frames, capture has %d", inPlace, got, len(want))
		}
	}
}

func TestStatsAndXStats(t *testing.T) {
	pool := newPool(t, 2047)
	src := openStarted(t, "net_null1", PortConfig{Pool: pool})
	dst := openStarted(t, "net_null2", PortConfig{Pool: pool})
	info := src.Info()
	if info.Driver != "net_null" || info.Name != "net_null1" || info.MaxRxQueues < 1 {
		t.Errorf("device info %+v", info)
	}
	if l, err := src.Link(); err != nil || !l.Up {
		t.Errorf("link %v, %v: want up", l, err)
	}
	frames := make([]port.Frame, 32)
	total := 0
	for range 10 {
		n := src.RxBurst(0, frames)
		total += n
		if s := dst.TxBurst(0, frames[:n]); s != n {
			dst.Free(frames[s:n])
		}
	}
	if total == 0 {
		t.Fatal("net_null delivered nothing")
	}
	if s := src.Stats(); s.RxPackets != uint64(total) {
		t.Errorf("rx stats %+v, want %d packets", s, total)
	}
	xs, err := src.XStats()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, x := range xs {
		if x.Name == "rx_good_packets" {
			found = true
			if x.Value != uint64(total) {
				t.Errorf("xstat rx_good_packets = %d, want %d", x.Value, total)
			}
		}
	}
	if !found {
		t.Errorf("no rx_good_packets in xstats %v", xs)
	}
	if err := src.ResetStats(); err != nil {
		t.Fatal(err)
	}
	if s := src.Stats(); s.RxPackets != 0 {
		t.Errorf("after reset: %+v", s)
	}
}

func TestBurstAllocs(t *testing.T) {
	pool := newPool(t, 4095)
	src := openStarted(t, "net_null3", PortConfig{Pool: pool})
	dst := openStarted(t, "net_null4", PortConfig{Pool: pool})
	ring, err := testEAL.NewRing("allocs", 1024, 32, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer ring.Close()
	frames := make([]port.Frame, 32)
	allocs := testing.AllocsPerRun(1000, func() {
		n := src.RxBurst(0, frames)
		e := ring.Enqueue(frames[:n])
		src.Free(frames[e:n])
		n = ring.Dequeue(frames)
		s := dst.TxBurst(0, frames[:n])
		dst.Free(frames[s:n])
	})
	if allocs != 0 {
		t.Errorf("%v allocations per burst, want 0", allocs)
	}
	if u := pool.InUse(); u > 64 {
		t.Errorf("%d mbufs in use after the bursts", u)
	}
}

func TestRing(t *testing.T) {
	pool := newPool(t, 511)
	r, err := testEAL.NewRing("r_test", 16, 8, -1)
	if err != nil {
		t.Fatal(err)
	}
	in := make([]port.Frame, 20)
	for i := range in {
		if in[i], err = pool.Alloc(testFrame(i)); err != nil {
			t.Fatal(err)
		}
	}
	n := r.Enqueue(in)
	if n != 15 || r.Len() != 15 {
		t.Fatalf("enqueued %d (len %d) into a 16-slot ring, want 15", n, r.Len())
	}
	FreeFrames(in[n:])
	out := make([]port.Frame, 20)
	got := r.Dequeue(out)
	if got != 8 {
		t.Fatalf("dequeued %d with a burst of 8", got)
	}
	for i := range got {
		if !bytes.Equal(out[i].Data, testFrame(i)) {
			t.Fatalf("frame %d differs", i)
		}
	}
	FreeFrames(out[:got])
	r.Close() // frees the 7 left
	if u := pool.InUse(); u != 0 {
		t.Errorf("%d mbufs in use after Close", u)
	}
}

func TestAllocMemory(t *testing.T) {
	b, err := testEAL.AllocMemory(8<<20, -1)
	if err != nil {
		t.Fatal(err)
	}
	for i := range b {
		if b[i] != 0 {
			t.Fatalf("byte %d not zero", i)
		}
	}
	b[len(b)-1] = 1
	testEAL.FreeMemory(b)
	if _, err := testEAL.AllocMemory(64<<30, -1); err == nil {
		t.Error("64 GiB allocation succeeded with -m 512")
	}
}

func TestSymmetricRSSKey(t *testing.T) {
	k := SymmetricRSSKey(40)
	if len(k) != 40 || k[0] != 0x6d || k[1] != 0x5a || k[38] != 0x6d || k[39] != 0x5a {
		t.Errorf("key % x", k)
	}
}

func TestDevName(t *testing.T) {
	for in, want := range map[string]string{
		"net_pcap0,rx_pcap=a.pcap,tx_pcap=b.pcap": "net_pcap0",
		"net_null0":                   "net_null0",
		"0000:01:00.0":                "0000:01:00.0",
		"vdev:net_af_packet0,iface=x": "net_af_packet0",
	} {
		if got := devName(in); got != want {
			t.Errorf("devName(%q) = %q, want %q", in, got, want)
		}
	}
}

// BenchmarkNullRxTx moves bursts of 32 from a net_null source to a
// net_null sink: the cost of this layer (one cgo call per burst each way)
// plus net_null's own mbuf allocation and freeing.
func BenchmarkNullRxTx(b *testing.B) {
	b.Run("unregistered", func(b *testing.B) { benchNullRxTx(b, "net_null5", "net_null6", false) })
	b.Run("lcore", func(b *testing.B) { benchNullRxTx(b, "net_null7", "net_null8", true) })
}

// benchNullRxTx runs the loop, on a thread with a DPDK lcore id (and so a
// per-lcore mempool cache) when register is set.
func benchNullRxTx(b *testing.B, srcName, dstName string, register bool) {
	if register {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if _, err := testEAL.RegisterThread(); err != nil {
			b.Fatal(err)
		}
		defer testEAL.UnregisterThread()
	}
	pool, err := testEAL.NewMempool("p_"+srcName, 8191, 256, DefaultDataRoom, -1)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	src := openStarted(b, srcName, PortConfig{Pool: pool, Burst: 32})
	dst := openStarted(b, dstName, PortConfig{Pool: pool, Burst: 32})
	frames := make([]port.Frame, 32)
	b.ReportAllocs()
	pkts := 0
	b.ResetTimer()
	for range b.N {
		n := src.RxBurst(0, frames)
		s := dst.TxBurst(0, frames[:n])
		dst.Free(frames[s:n])
		pkts += n
	}
	b.ReportMetric(float64(pkts)/b.Elapsed().Seconds()/1e6, "Mpps")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(max(pkts, 1)), "ns/pkt")
}

// TestMultiSegmentDropped reads a capture with frames larger than the mbuf
// data room: net_pcap chains them into multi-segment mbufs, which RxBurst
// frees and counts instead of handing out.
func TestMultiSegmentDropped(t *testing.T) {
	path := filepath.Join(packettest.SharedDir(t), "pcaps", "suricata-verify", "alg-ftp-all-data-ipv4.pcap")
	wantPkts, _ := pcapTotals(t, path)
	const room = 128 + 256 // headroom + 256 bytes of data
	var big uint64
	for _, f := range packettest.ReadCapture(t, path) {
		if len(f.Data) > room-128 {
			big++
		}
	}
	if big == 0 {
		t.Fatal("capture has no frame above 256 bytes")
	}
	pool, err := testEAL.NewMempool("p_small", 2047, 0, room, -1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	src := openStarted(t, "net_pcap1,rx_pcap="+path, PortConfig{Pool: pool})
	frames := make([]port.Frame, 32)
	var got uint64
	idle := time.Now()
	for time.Since(idle) < 500*time.Millisecond {
		n := src.RxBurst(0, frames)
		if n == 0 {
			continue
		}
		idle = time.Now()
		for _, fr := range frames[:n] {
			if len(fr.Data) > room-128 {
				t.Fatalf("frame of %d bytes handed out from a %d-byte data room", len(fr.Data), room-128)
			}
		}
		got += uint64(n)
		src.Free(frames[:n])
	}
	qs := src.QueueStats(0)
	if got+qs.RxMultiSeg != wantPkts || qs.RxMultiSeg != big {
		t.Errorf("received %d, dropped %d multi-segment; capture has %d frames, %d above the data room", got, qs.RxMultiSeg, wantPkts, big)
	}
	if s := src.Stats(); s.RxErrors != big {
		t.Errorf("stats %+v: want %d rx errors (multi-segment)", s, big)
	}
	if u := pool.InUse(); u != 0 {
		t.Errorf("%d mbufs still in use", u)
	}
}

func TestSymmetricRSSKeyIsSymmetric(t *testing.T) {
	key := SymmetricRSSKey(40)
	tuple := func(src, dst [4]byte, sport, dport uint16) []byte {
		b := append(append([]byte{}, src[:]...), dst[:]...)
		return binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(b, sport), dport)
	}
	for i := range 1000 {
		src := [4]byte{198, 18, byte(i >> 8), byte(i)}
		dst := [4]byte{198, 19, byte(i * 7), byte(i * 13)}
		sport, dport := uint16(1024+i*31), uint16(80+i)
		a, b := rss.Toeplitz(key, tuple(src, dst, sport, dport)), rss.Toeplitz(key, tuple(dst, src, dport, sport))
		if a != b {
			t.Fatalf("tuple %d: hash %#x one way, %#x the other", i, a, b)
		}
	}
}

// TestRSS configures symmetric RSS on net_null, which emulates RSS (key,
// hash functions, redirection table) for tests.
func TestRSS(t *testing.T) {
	pool := newPool(t, 4095)
	p := openStarted(t, "net_null9", PortConfig{Pool: pool, RxQueues: 4, TxQueues: 4, RSS: true})
	if !p.RSS() {
		t.Skipf("net_null reports no RSS offloads (%#x)", p.Info().RSSOffloads)
	}
	key, hf, err := p.RSSConfig()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(key, SymmetricRSSKey(len(key))) || hf == 0 {
		t.Errorf("RSS key % x, hash functions %#x: want the symmetric key", key, hf)
	}
	reta, err := p.RETA()
	if err != nil {
		t.Fatal(err)
	}
	for i, q := range reta {
		if int(q) != i%4 {
			t.Fatalf("RETA[%d] = %d, want %d (round robin over 4 queues)", i, q, i%4)
		}
	}
	single := openStarted(t, "net_null10", PortConfig{Pool: pool, RxQueues: 1, RSS: true})
	if single.RSS() {
		t.Error("RSS enabled on a single-queue port")
	}
}

// TestAFPacketVeth sends frames through the kernel: out of a net_af_packet
// port on one end of a veth pair, in through another on the other end.
// Needs root and iproute2 (it skips without them, unless CI=true).
func TestAFPacketVeth(t *testing.T) {
	ipPath, err := exec.LookPath("ip")
	if os.Geteuid() != 0 || err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("needs root and iproute2 (euid %d, ip: %v)", os.Geteuid(), err)
		}
		t.Skip("needs root and iproute2")
	}
	a, b := fmt.Sprintf("swt%da", os.Getpid()%10000), fmt.Sprintf("swt%db", os.Getpid()%10000)
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(ipPath, args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	run("link", "add", a, "type", "veth", "peer", "name", b)
	t.Cleanup(func() { _ = exec.Command(ipPath, "link", "del", a).Run() })
	for _, dev := range []string{a, b} {
		// No IPv6 on the test link: no router solicitations or MLD
		// reports among the frames.
		_ = os.WriteFile("/proc/sys/net/ipv6/conf/"+dev+"/disable_ipv6", []byte("1"), 0o644)
		run("link", "set", dev, "up")
	}
	pool := newPool(t, 4095)
	pa := openStarted(t, "net_af_packet90,iface="+a, PortConfig{Pool: pool, Promiscuous: true})
	pb := openStarted(t, "net_af_packet91,iface="+b, PortConfig{Pool: pool, Promiscuous: true})
	if d := pa.Info().Driver; d != "net_af_packet" {
		t.Errorf("driver %q", d)
	}
	const n = 20
	tx := make([]port.Frame, n)
	for i := range tx {
		if tx[i], err = pool.Alloc(testFrame(i)); err != nil {
			t.Fatal(err)
		}
	}
	sent := pa.TxBurst(0, tx)
	pa.Free(tx[sent:])
	if sent != n {
		t.Fatalf("af_packet took %d of %d frames", sent, n)
	}
	rx := make([]port.Frame, 32)
	seen := 0
	deadline := time.Now().Add(3 * time.Second)
	for seen < n && time.Now().Before(deadline) {
		got := pb.RxBurst(0, rx)
		for _, f := range rx[:got] {
			if len(f.Data) >= 18 && f.Data[12] == 0x88 && f.Data[13] == 0xb5 {
				i := int(binary.BigEndian.Uint32(f.Data[14:]))
				if !bytes.Equal(f.Data, testFrame(i)) {
					t.Errorf("frame %d arrived altered", i)
				}
				seen++
			}
		}
		pb.Free(rx[:got])
	}
	if seen != n {
		t.Errorf("received %d of %d frames through the veth pair", seen, n)
	}
}

// TestLcores: the tests' EAL has only lcore 0 (-l 0), its main lcore on
// CPU 0, and no worker lcores.
func TestLcores(t *testing.T) {
	if got := testEAL.WorkerLcores(); len(got) != 0 {
		t.Errorf("WorkerLcores = %v, want none", got)
	}
	if got := testEAL.MainLcore(); got != 0 {
		t.Errorf("MainLcore = %d, want 0", got)
	}
	for lcore, want := range map[int]int{0: 0, 1: -1, -1: -1, 5000: -1} {
		if got := testEAL.LcoreCPU(lcore); got != want {
			t.Errorf("LcoreCPU(%d) = %d, want %d", lcore, got, want)
		}
	}
}
