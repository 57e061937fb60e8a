package conntrack

import (
	"net/netip"
	"testing"

	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/flowtable/ctstate"
)

// Test addresses (RFC 2544 benchmarking space, as the lab uses).
var (
	cliAddr = netip.MustParseAddr("198.18.0.1")
	srvAddr = netip.MustParseAddr("198.19.0.1")
	rtrAddr = netip.MustParseAddr("198.18.255.254")
	cli6    = netip.MustParseAddr("fd00::1")
	srv6    = netip.MustParseAddr("fd00:1::1")
)

func tuple(src, dst netip.Addr, sp, dp uint16, proto uint8) packet.Tuple {
	t := packet.Tuple{Proto: proto, SrcPort: sp, DstPort: dp}
	if src.Is4() {
		t.Family = packet.FamilyIPv4
		s, d := src.As4(), dst.As4()
		copy(t.Src[:], s[:])
		copy(t.Dst[:], d[:])
	} else {
		t.Family = packet.FamilyIPv6
		t.Src, t.Dst = src.As16(), dst.As16()
	}
	return t
}

// seg describes a TCP segment for tcpPacket.
type seg struct {
	flags    uint8
	seq, ack uint32
	win      uint16
	len      int
	wscale   int // -1: no option
	sackPerm bool
}

func tcpPacket(src, dst netip.Addr, sp, dp uint16, s seg) *packet.Parsed {
	p := &packet.Parsed{Tuple: tuple(src, dst, sp, dp, packet.ProtoTCP)}
	p.TCP = packet.TCPInfo{Seq: s.seq, Ack: s.ack, Window: s.win, Flags: s.flags, HeaderLen: 20}
	if s.wscale >= 0 && s.flags&packet.TCPSyn != 0 {
		p.TCP.HasWScale, p.TCP.WScale = true, uint8(s.wscale)
		p.TCP.HeaderLen = 24
	}
	if s.sackPerm {
		p.TCP.SACKPerm = true
		p.TCP.HeaderLen += 4
	}
	p.PayloadLen = uint16(s.len)
	p.IPLen = uint16(20 + int(p.TCP.HeaderLen) + s.len)
	p.L3Off, p.L4Off = 14, 34
	if src.Is6() {
		p.IPLen += 20
		p.L4Off = 54
	}
	// The frame holds the TCP options, which the tracker reads (the rest
	// of the frame is zeros).
	p.Frame = make([]byte, int(p.L4Off)+20, int(p.L4Off)+int(p.TCP.HeaderLen))
	if p.TCP.HasWScale {
		p.Frame = append(p.Frame, 3, 3, p.TCP.WScale, 1) // window scale, NOP
	}
	if p.TCP.SACKPerm {
		p.Frame = append(p.Frame, 4, 2, 1, 1) // SACK permitted, NOP, NOP
	}
	return p
}

func udpPacket(src, dst netip.Addr, sp, dp uint16, n int) *packet.Parsed {
	p := &packet.Parsed{Tuple: tuple(src, dst, sp, dp, packet.ProtoUDP)}
	p.L3Off, p.L4Off = 14, 34
	p.UDPLen = uint16(8 + n)
	p.IPLen = uint16(20 + 8 + n)
	p.PayloadLen = uint16(n)
	return p
}

func icmpPacket(src, dst netip.Addr, typ uint8, id uint16) *packet.Parsed {
	proto := packet.ProtoICMP
	if src.Is6() {
		proto = packet.ProtoICMPv6
	}
	p := &packet.Parsed{Tuple: tuple(src, dst, 0, 0, proto)}
	p.ICMP.Type = typ
	if icmpRoleOf(proto, typ) == icmpRequest || icmpRoleOf(proto, typ) == icmpReply {
		p.ICMP.ID = id
		p.Tuple.SrcPort, p.Tuple.DstPort = id, id
	}
	return p
}

// icmpError builds an ICMP error from src to dst quoting inner.
func icmpError(src, dst netip.Addr, typ uint8, inner packet.Tuple, innerICMPType uint8) *packet.Parsed {
	p := icmpPacket(src, dst, typ, 0)
	p.ICMP.IsError = true
	p.ICMP.Inner, p.ICMP.InnerOK = inner, true
	p.ICMP.InnerICMPType = innerICMPType
	return p
}

func newTracker(t testing.TB, mod func(*Options)) *Tracker {
	t.Helper()
	o := DefaultOptions()
	o.Capacity4, o.Capacity6 = 1024, 1024
	if mod != nil {
		mod(&o)
	}
	tr, err := New(o, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func track(tr *Tracker, now uint32, p *packet.Parsed) Result {
	var r Result
	tr.Track(now, p, tr.Hash(p), &r)
	return r
}

// entryOf returns the tracker's view of the connection of tuple tu (either
// direction), or false.
func entryOf(tr *Tracker, tu packet.Tuple) (EntryInfo, bool) {
	var found EntryInfo
	ok := false
	rev := tu
	rev.Src, rev.Dst, rev.SrcPort, rev.DstPort = tu.Dst, tu.Src, tu.DstPort, tu.SrcPort
	tr.Range(func(e EntryInfo) bool {
		if e.Orig == tu || e.Orig == rev {
			found, ok = e, true
			return false
		}
		return true
	})
	return found, ok
}

// tcpConv drives one TCP connection between cli and srv, keeping each
// side's next sequence number.
type tcpConv struct {
	t        testing.TB
	tr       *Tracker
	now      uint32
	cli, srv netip.Addr
	cp, sp   uint16
	isn      [2]uint32 // initial sequence numbers of client (0) and server (1)
	nxt      [2]uint32 // next sequence numbers
	synSent  [2]bool
	win      uint16
}

func newConv(t testing.TB, tr *Tracker) *tcpConv {
	return &tcpConv{t: t, tr: tr, now: 1000, cli: cliAddr, srv: srvAddr, cp: 40000, sp: 80,
		isn: [2]uint32{1000, 5000}, nxt: [2]uint32{1000, 5000}, win: 65535}
}

func (c *tcpConv) tuple() packet.Tuple { return tuple(c.cli, c.srv, c.cp, c.sp, packet.ProtoTCP) }

// raw sends a segment from side d (0 client, 1 server) with explicit fields.
func (c *tcpConv) raw(d int, s seg) Result {
	c.now += 10
	var p *packet.Parsed
	if d == 0 {
		p = tcpPacket(c.cli, c.srv, c.cp, c.sp, s)
	} else {
		p = tcpPacket(c.srv, c.cli, c.sp, c.cp, s)
	}
	return track(c.tr, c.now, p)
}

// send sends a segment from side d at its next sequence number (its ISN
// for a SYN) acking the peer's, with n bytes of data, and advances the
// sequence numbers.
func (c *tcpConv) send(d int, flags uint8, n int) Result {
	s := seg{flags: flags, seq: c.nxt[d], win: c.win, len: n, wscale: -1}
	if flags&packet.TCPSyn != 0 {
		s.seq = c.isn[d]
		if !c.synSent[d] {
			c.synSent[d] = true
			c.nxt[d] = c.isn[d] + 1
		}
	}
	if flags&packet.TCPAck != 0 {
		s.ack = c.nxt[1-d]
	}
	r := c.raw(d, s)
	c.nxt[d] += uint32(n)
	if flags&packet.TCPFin != 0 {
		c.nxt[d]++
	}
	return r
}

// handshake opens the connection: SYN, SYN/ACK, ACK.
func (c *tcpConv) handshake() {
	c.t.Helper()
	c.syn()
	c.synack()
	if r := c.send(0, packet.TCPAck, 0); r.State != ctstate.Established || r.TCPState != TCPEstablished {
		c.t.Fatalf("handshake ACK: %+v", r)
	}
}

func (c *tcpConv) syn() Result {
	c.t.Helper()
	r := c.send(0, packet.TCPSyn, 0)
	if r.State != ctstate.New {
		c.t.Fatalf("SYN: %+v", r)
	}
	return r
}

func (c *tcpConv) synack() Result {
	c.t.Helper()
	r := c.send(1, packet.TCPSyn|packet.TCPAck, 0)
	if r.State != ctstate.Established || r.TCPState != TCPSynRecv {
		c.t.Fatalf("SYN/ACK: %+v", r)
	}
	return r
}

func (c *tcpConv) info() EntryInfo {
	c.t.Helper()
	e, ok := entryOf(c.tr, c.tuple())
	if !ok {
		c.t.Fatalf("no entry for %v", c.tuple())
	}
	return e
}

func (c *tcpConv) state() TCPState { return c.info().TCPState }

func (c *tcpConv) exists() bool { _, ok := entryOf(c.tr, c.tuple()); return ok }
