package conntrack

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/flowtable"
	"github.com/statewall/statewall/flowtable/ctstate"
)

// TestFastPathTakesEstablishedSegments checks which segments of a
// conversation TrackEstablished4 takes: none before the reply, the data
// and ACKs after it, and SYNs only on an ESTABLISHED connection.
func TestFastPathTakesEstablishedSegments(t *testing.T) {
	tr := newTracker(t, nil)
	conv := seedConversation(t)
	var (
		p packet.Parsed
		s packet.TCP4
		x Established4
		r Result
	)
	now := uint32(1000)
	step := func(frame []byte) bool {
		t.Helper()
		now += 10
		if !packet.ParseTCP4(frame, packet.Options{}, &s) {
			t.Fatal("ParseTCP4 refused a conversation frame")
		}
		tr.BeginTCP4(&s, &x)
		out := tr.TrackEstablished4(now, &s, frame, &x)
		if out >= FastCall {
			out = tr.TrackEstablishedCall4(now, &s, frame, &x, &r, out)
		}
		switch out {
		case FastEstablished:
			x.Result(&r)
			return true
		case FastTracked, FastInvalid:
			return true
		}
		if packet.Parse(frame, packet.LinkEthernet, &p) != packet.ReasonNone {
			t.Fatal("Parse refused a conversation frame")
		}
		tr.Track(now, &p, x.Hash(), &r)
		return false
	}
	// SYN, SYN/ACK (the connection's first reply), ACK, data, then the
	// client's SYN again (ignored on ESTABLISHED), the server's FIN.
	for i, want := range []bool{false, false, true, true} {
		if got := step(conv[i]); got != want {
			t.Errorf("frame %d: fast path %v, want %v (result %+v)", i, got, want, r)
		}
	}
	if got := step(conv[0]); !got || r.State.String() != "ESTABLISHED" {
		t.Errorf("SYN on an ESTABLISHED connection: fast path %v, result %+v", got, r)
	}
	if got := step(conv[5]); !got {
		t.Errorf("FIN: not on the fast path (result %+v)", r)
	}
}

// TestAckEstablishedAgreesWithPacket gives ackEstablished and packet the
// same random connections and segments, concentrated around the window
// edges: where ackEstablished takes a segment, packet must accept it with
// the same timeout and leave the connection and its flags the same; where
// it declines, it must have changed nothing.
func TestAckEstablishedAgreesWithPacket(t *testing.T) {
	tr := newTracker(t, nil)
	cfg := &tr.tcp
	rng := rand.New(rand.NewPCG(1, 2))
	near := func(base uint32) uint32 { // base, or somewhere near it
		switch rng.IntN(4) {
		case 0:
			return base + uint32(rng.IntN(5)) - 2
		case 1:
			return base + uint32(rng.IntN(1<<17)) - 1<<16
		case 2:
			return rng.Uint32()
		}
		return base
	}
	taken := 0
	for i := range 200_000 {
		var c Conn
		for j := range c.w {
			c.w[j] = rng.Uint32()
		}
		// Coherent windows most of the time: max_end ahead of end.
		if rng.IntN(4) != 0 {
			for d := range 2 {
				c.w[4+d] = uint32(rng.IntN(1 << 20))
				if rng.IntN(8) == 0 {
					c.w[4+d] = 0
				}
				c.w[2+d] = c.w[d] + uint32(rng.IntN(1<<20))
			}
			c.w[1] = c.w[0] + uint32(rng.IntN(1<<24))
		}
		c.lag = [2]uint16{uint16(rng.IntN(1 << 16)), uint16(rng.IntN(4))}
		c.df = [2]uint8{uint8(rng.IntN(256)), uint8(rng.IntN(256))}
		c.scale = uint8(rng.IntN(256))
		c.misc = uint8(rng.IntN(256))
		c.rfp, c.lastEnd = uint8(rng.IntN(4)), uint16(rng.IntN(1<<16))
		state := TCPEstablished
		if rng.IntN(16) == 0 {
			state = TCPState(rng.IntN(NumTCPStates))
		}
		c.st = uint8(state) | uint8(rng.IntN(8))<<4 | uint8(rng.IntN(2))<<7
		flags := FlagSeenReply | uint8(rng.IntN(2))*flowtable.FlagAssured
		if rng.IntN(16) == 0 {
			flags = uint8(rng.IntN(256))
		}
		dir := rng.IntN(2)
		s, r := dir, 1-dir
		tcpFlags := packet.TCPAck | uint8(rng.IntN(2))*packet.TCPPsh
		if rng.IntN(16) == 0 {
			tcpFlags = uint8(rng.IntN(64))
		}
		var opts []byte
		if rng.IntN(4) == 0 { // one SACK block
			opts = []byte{1, 1, 5, 10, 0, 0, 0, 0, 0, 0, 0, 0}
			binary.BigEndian.PutUint32(opts[8:], near(c.w[r]))
		}
		var seg tcpSeg
		fillSeg(&seg, near(c.w[s]), near(c.w[r]), uint16(rng.IntN(1<<16)), tcpFlags, uint16(rng.IntN(1500)))
		seg.opts = opts
		if rng.IntN(8) == 0 {
			seg.win = 0
		}

		fc, ff := c, flags
		gc, gf := c, flags
		var expires uint32
		timeout, ok := cfg.ackEstablished(&fc, ff, dir, seg.flags, seg.seq, seg.ack, uint16(seg.end-seg.seq), seg.win, sackOf(&fc, dir, seg.opts, seg.ack))
		act, gTimeout, _ := cfg.packet(&gc, tcpCtx{&gf, &expires, 1000}, dir, &seg)
		if !ok {
			if fc != c {
				t.Fatalf("case %d: declined but changed the connection:\n%+v\n%+v", i, c, fc)
			}
			continue
		}
		taken++
		ff |= flowtable.FlagAssured
		if act != tcpAccept || timeout != gTimeout || fc != gc || ff != gf {
			t.Fatalf("case %d: ackEstablished %v %d %+v flags %#x, packet %v %d %+v flags %#x (before %+v flags %#x, seg %+v)",
				i, ok, timeout, fc, ff, act, gTimeout, gc, gf, c, flags, seg)
		}
	}
	t.Logf("ackEstablished took %d of 200000 segments", taken)
	if taken < 10_000 {
		t.Errorf("ackEstablished took only %d segments: the test misses its case", taken)
	}
}

// BenchmarkAckEstablished is the TCP tracker's cost for the commonest
// segment alone: data one way and its ACK the other, the window moving,
// on 64 connections in turn (all in L1, none waiting on its last update).
func BenchmarkAckEstablished(b *testing.B) {
	tr := newTracker(b, nil)
	cfg := &tr.tcp
	const conns = 64
	var (
		cs        [conns]Conn
		flags     [conns]uint8
		data, ack [conns]tcpSeg
		expires   uint32
	)
	for i := range conns {
		c, f := &cs[i], &flags[i]
		ctx := tcpCtx{f, &expires, 1000}
		var s tcpSeg
		fillSeg(&s, 1000, 0, 64240, packet.TCPSyn, 0)
		cfg.initNew(c, &s)
		cfg.packet(c, ctx, 0, &s)
		fillSeg(&s, 5000, 1001, 64240, packet.TCPSyn|packet.TCPAck, 0)
		cfg.packet(c, ctx, 1, &s)
		*f |= FlagSeenReply
		fillSeg(&s, 1001, 5001, 64240, packet.TCPAck, 0)
		cfg.packet(c, ctx, 0, &s)
		if c.tcpState() != TCPEstablished {
			b.Fatalf("handshake left %v", c.tcpState())
		}
		fillSeg(&data[i], 1001, 5001, 64240, packet.TCPAck|packet.TCPPsh, 100)
		fillSeg(&ack[i], 5001, 1101, 64240, packet.TCPAck, 0)
	}
	b.ResetTimer()
	for range b.N {
		for i := range conns {
			if _, ok := cfg.ackEstablished(&cs[i], flags[i], 0, data[i].flags, data[i].seq, data[i].ack, uint16(data[i].end-data[i].seq), data[i].win, data[i].ack); !ok {
				b.Fatal("data declined")
			}
		}
		for i := range conns {
			if _, ok := cfg.ackEstablished(&cs[i], flags[i], 1, ack[i].flags, ack[i].seq, ack[i].ack, uint16(ack[i].end-ack[i].seq), ack[i].win, ack[i].ack); !ok {
				b.Fatal("ACK declined")
			}
			data[i].seq += 100
			data[i].end += 100
			ack[i].ack += 100
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(2*conns*b.N), "ns/seg")
}

// TestFastPathTakesRepliedDatagrams checks which datagrams of a UDP
// exchange TrackEstablishedUDP4 takes: not the query that creates the
// connection nor the first reply, every datagram after; and that the
// connection becomes ASSURED (the stream timeout) two seconds after it
// was created, as Track makes it.
func TestFastPathTakesRepliedDatagrams(t *testing.T) {
	tr := newTracker(t, nil)
	q := frameUDP(t, "198.18.0.1", "198.19.0.53", 40000, 53, 30)
	a := frameUDP(t, "198.19.0.53", "198.18.0.1", 53, 40000, 90)
	var (
		p packet.Parsed
		u packet.UDP4
		x Established4
		r Result
	)
	now := uint32(1000)
	step := func(frame []byte, dt uint32) bool {
		t.Helper()
		now += dt
		if !packet.ParseUDP4(frame, packet.Options{}, &u) {
			t.Fatal("ParseUDP4 refused an exchange frame")
		}
		tr.BeginUDP4(&u, &x)
		if tr.TrackEstablishedUDP4(now, &x) == FastEstablished {
			return true
		}
		if packet.Parse(frame, packet.LinkEthernet, &p) != packet.ReasonNone {
			t.Fatal("Parse refused an exchange frame")
		}
		tr.Track(now, &p, x.Hash(), &r)
		return false
	}
	for i, want := range []bool{false, false, true, true} {
		if got := step([][]byte{q, a, q, a}[i], 10); got != want {
			t.Errorf("datagram %d: fast path %v, want %v", i, got, want)
		}
	}
	if x.e.Flags&flowtable.FlagAssured != 0 {
		t.Error("ASSURED before two seconds")
	}
	if !step(q, 3000) || x.e.Flags&flowtable.FlagAssured == 0 || x.Dir() != ctstate.Original {
		t.Errorf("after 3 s: flags %#x dir %v, want ASSURED, original", x.e.Flags, x.Dir())
	}
	if got, want := x.e.Expires, now+tr.to.udpStream; got != want {
		t.Errorf("expires %d, want %d (the stream timeout)", got, want)
	}
}
