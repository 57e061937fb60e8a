package conntrack

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/flowtable/ctstate"
)

// ndRedirectPacket builds an ICMPv6 redirect from src to dst quoting an
// ICMPv6 echo request (quoteSrc -> quoteDst, id).
func ndRedirectPacket(src, dst, quoteSrc, quoteDst netip.Addr, id uint16, hopLimit uint8, optType uint8) *packet.Parsed {
	var f []byte
	f = append(f, make([]byte, packet.IPv6Size)...) // the outer header (not read)
	f = append(f, ndRedirect, 0, 0, 0, 0, 0, 0, 0)  // type, code, checksum, reserved
	f = append(f, make([]byte, 32)...)              // target, destination
	quote := make([]byte, packet.IPv6Size+8)
	quote[0] = 0x60
	binary.BigEndian.PutUint16(quote[4:], 8)
	quote[6], quote[7] = packet.ProtoICMPv6, 64
	s, d := quoteSrc.As16(), quoteDst.As16()
	copy(quote[8:], s[:])
	copy(quote[24:], d[:])
	quote[40] = packet.ICMPv6EchoRequest
	binary.BigEndian.PutUint16(quote[44:], id)
	f = append(f, optType, uint8((8+len(quote))/8), 0, 0, 0, 0, 0, 0)
	f = append(f, quote...)
	p := &packet.Parsed{Frame: f, Tuple: tuple(src, dst, 0, 0, packet.ProtoICMPv6)}
	p.L3Off, p.L4Off, p.IPLen, p.TTL = 0, packet.IPv6Size, uint16(len(f)), hopLimit
	p.ICMP.Type = ndRedirect
	return p
}

func TestNDRedirectRelated(t *testing.T) {
	tr := newTracker(t, nil)
	track(tr, 1000, icmpPacket(cli6, srv6, packet.ICMPv6EchoRequest, 5))
	router := netip.MustParseAddr("fe80::1")
	cases := []struct {
		name   string
		p      *packet.Parsed
		state  ctstate.State
		reason packet.DropReason
	}{
		{"redirect for the echo flow", ndRedirectPacket(router, cli6, cli6, srv6, 5, 255, ndOptRedirectHdr), ctstate.Related, 0},
		{"redirect for an unknown flow", ndRedirectPacket(router, cli6, cli6, srv6, 6, 255, ndOptRedirectHdr), ctstate.Invalid, packet.ReasonICMPNoFlow},
		{"not from a link-local address", ndRedirectPacket(srv6, cli6, cli6, srv6, 5, 255, ndOptRedirectHdr), ctstate.Invalid, packet.ReasonBadAddress},
		{"forwarded (hop limit below 255)", ndRedirectPacket(router, cli6, cli6, srv6, 5, 254, ndOptRedirectHdr), ctstate.Invalid, packet.ReasonBadAddress},
		{"first option is not the redirected header", ndRedirectPacket(router, cli6, cli6, srv6, 5, 255, 1), ctstate.Invalid, packet.ReasonICMPUnknownType},
	}
	for _, tc := range cases {
		r := track(tr, 1001, tc.p)
		if r.State != tc.state || r.Reason != tc.reason {
			t.Errorf("%s: %+v, want %v %q", tc.name, r, tc.state, tc.reason)
		}
	}
	if r := track(tr, 1002, ndRedirectPacket(router, cli6, cli6, srv6, 5, 255, ndOptRedirectHdr)); r.Dir != ctstate.Reply {
		t.Errorf("direction %v, want reply", r.Dir)
	}
}

func TestScanSACK(t *testing.T) {
	// TCP header (20 bytes) + NOP NOP SACK(2 blocks) options.
	hdr := make([]byte, 20)
	opts := []byte{1, 1, 5, 18}
	opts = binary.BigEndian.AppendUint32(opts, 1000)
	opts = binary.BigEndian.AppendUint32(opts, 2000)
	opts = binary.BigEndian.AppendUint32(opts, 3000)
	opts = binary.BigEndian.AppendUint32(opts, 4000)
	opts = append(opts, 1, 1)
	p := &packet.Parsed{Frame: append(hdr, opts...)}
	p.TCP.HeaderLen = uint8(20 + len(opts))
	if got := scanSACK(tcpOpts(p), 500); got != 4000 {
		t.Errorf("sack %d, want 4000", got)
	}
	if got := scanSACK(tcpOpts(p), 5000); got != 5000 {
		t.Errorf("sack %d, want the ack 5000 (no block beyond it)", got)
	}
	// Timestamp-only options carry no SACK.
	ts := append(make([]byte, 20), 1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2)
	p = &packet.Parsed{Frame: ts}
	p.TCP.HeaderLen = 32
	if got := scanSACK(tcpOpts(p), 7); got != 7 {
		t.Errorf("timestamps: %d", got)
	}
	// Truncated or silly options stop the scan.
	for _, o := range [][]byte{{5}, {5, 1}, {5, 30, 0, 0}, {2, 0}} {
		p = &packet.Parsed{Frame: append(make([]byte, 20), o...)}
		p.TCP.HeaderLen = uint8(20 + len(o))
		if got := scanSACK(tcpOpts(p), 9); got != 9 {
			t.Errorf("options %v: %d", o, got)
		}
	}
}
