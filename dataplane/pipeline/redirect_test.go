package pipeline_test

import (
	"net"
	"net/netip"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/statewall/statewall/config"
	"github.com/statewall/statewall/dataplane/engine"
	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/dataplane/packet/packettest"
	"github.com/statewall/statewall/dataplane/pipeline"
	"github.com/statewall/statewall/dataplane/port"
	"github.com/statewall/statewall/dataplane/port/memport"
	"github.com/statewall/statewall/dataplane/rss"
	"github.com/statewall/statewall/flowtable/ctstate"
)

// queuePort is one RX queue of a NIC with RSS, for tests: frames can be
// added while workers poll it.
type queuePort struct {
	q []port.Frame
}

func (p *queuePort) Name() string              { return "rss-queue" }
func (p *queuePort) LinkType() packet.LinkType { return packet.LinkEthernet }
func (p *queuePort) RxBurst(_ int, f []port.Frame) int {
	n := copy(f, p.q)
	p.q = p.q[n:]
	return n
}
func (p *queuePort) TxBurst(_ int, f []port.Frame) int { return len(f) }
func (p *queuePort) Free([]port.Frame)                 {}
func (p *queuePort) Done() bool                        { return len(p.q) == 0 }
func (p *queuePort) Stats() port.Stats                 { return port.Stats{} }

// fragNeeded is an ICMP "fragmentation needed" from router to the sender
// of quoted (an Ethernet frame), quoting its IP header and 8 bytes.
func fragNeeded(t *testing.T, router netip.Addr, quoted []byte) []byte {
	var p packet.Parsed
	if packet.Parse(quoted, packet.LinkEthernet, &p) != packet.ReasonNone {
		t.Fatal("quoted frame does not parse")
	}
	src := netip.AddrFrom4([4]byte(p.Tuple.Src[:4]))
	return packettest.Serialize(t,
		&layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 9}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, EthernetType: layers.EthernetTypeIPv4},
		&layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: router.AsSlice(), DstIP: src.AsSlice()},
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(3, 4), Seq: 1400},
		gopacket.Payload(quoted[p.L3Off:int(p.L4Off)+8]))
}

// TestRedirectSendsICMPErrorsToTheirConnection runs two workers, each on
// its own RSS queue (layer-3 symmetric hash, as the daemon configures
// NICs), with TCP connections and then ICMP errors about them from a
// router: the NIC queues each error by its outer addresses, so some land
// on the worker that does not own their connection. With Redirect every
// error reaches its connection's worker and is RELATED; without it those
// errors find no connection and are INVALID.
func TestRedirectSendsICMPErrorsToTheirConnection(t *testing.T) {
	table := &rss.Table{Key: rss.SymmetricKey(40), RETA: make([]uint16, 128)}
	for i := range table.RETA {
		table.RETA[i] = uint16(i % 2)
	}
	router := netip.MustParseAddr("198.18.255.254")
	var conns, errs [][]byte
	for i := 0; i < 40; i++ {
		c := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, 0, byte(i + 1)}), 40000)
		hs := packettest.Handshake(c, ap("198.19.0.2:80"), 1)
		conns = append(conns, hs...)
		errs = append(errs, fragNeeded(t, router, hs[3])) // quotes the client's data segment
	}
	queueOf := func(f []byte) int {
		var p packet.Parsed
		packet.Parse(f, packet.LinkEthernet, &p)
		return int(table.QueueOf(&p.Tuple.Src, &p.Tuple.Dst, p.Tuple.Family))
	}
	for _, redirect := range []bool{true, false} {
		c, err := config.Parse("test.toml", []byte(testRules))
		if err != nil {
			t.Fatal(err)
		}
		shared, err := engine.NewShared(c, nil)
		if err != nil {
			t.Fatal(err)
		}
		queues := []*queuePort{{}, {}}
		rings := [2][2]*sliceRing{{nil, {cap: 256}}, {{cap: 256}, nil}}
		recs := []*recorder{{}, {}}
		var workers []*pipeline.Worker
		for k := 0; k < 2; k++ {
			tr, err := shared.NewTracker(2, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			out := memport.New("wan", nil)
			b := pipeline.Binding{In: queues[k], Queue: k, Out: out, OutQ: k}
			bindings := []pipeline.Binding{b}
			if redirect {
				other := 1 - k
				toOther := []pipeline.FrameRing{nil, nil}
				toOther[other] = rings[k][other]
				bindings[0].Redirect = &pipeline.Redirect{Self: k, QueueOwner: []int{0, 1}, RSS: table, Rings: toOther}
				bindings = append(bindings, pipeline.Binding{In: &pipeline.RingPort{Ring: rings[other][k], Port: queues[k], TxQueue: k}, Out: out, OutQ: k})
			}
			workers = append(workers, pipeline.NewWorker(pipeline.Config{Burst: 8}, bindings, tr, shared.Ruleset, &fixedClock{now: 1000}, recs[k]))
		}
		deliver := func(frames [][]byte) {
			for _, f := range frames {
				q := queues[queueOf(f)]
				q.q = append(q.q, port.Frame{Data: f})
			}
			for i := 0; i < 100; i++ {
				workers[0].Poll()
				workers[1].Poll()
			}
		}
		deliver(conns)
		for k := range recs {
			recs[k].got = nil
		}
		deliver(errs)
		related, invalid := 0, 0
		for _, r := range recs {
			for _, o := range r.got {
				switch o.state {
				case ctstate.Related:
					related++
				case ctstate.Invalid:
					invalid++
				}
			}
		}
		if len(recs[0].got)+len(recs[1].got) != len(errs) {
			t.Fatalf("redirect=%v: %d errors processed, want %d", redirect, len(recs[0].got)+len(recs[1].got), len(errs))
		}
		switch {
		case redirect && related != len(errs):
			t.Errorf("with redirect: %d of %d errors RELATED (%d INVALID)", related, len(errs), invalid)
		case !redirect && (invalid == 0 || related == len(errs)):
			t.Errorf("without redirect: %d RELATED, %d INVALID; expected some errors on the wrong worker", related, invalid)
		}
	}
}
