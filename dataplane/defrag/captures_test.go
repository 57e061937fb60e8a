package defrag

import (
	"net/netip"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/dataplane/packet/packettest"
)

var (
	completesRe = regexp.MustCompile(`completes reassembly \((\d+) bytes\)`)
	ctNewRe     = regexp.MustCompile(`ct-new (?:[A-Z_0-9]+ )?(?:helper=\S+ )?(tcp|udp) (\S+)>(\S+)`)
)

// endpoints formats a parsed tuple as the answer key's notes do.
func endpoints(p *packet.Parsed) (proto, src, dst string) {
	a := func(b [16]byte) netip.Addr {
		if p.Family() == packet.FamilyIPv4 {
			return netip.AddrFrom4([4]byte(b[:4]))
		}
		return netip.AddrFrom16(b)
	}
	proto = map[uint8]string{packet.ProtoTCP: "tcp", packet.ProtoUDP: "udp"}[p.Tuple.Proto]
	return proto, netip.AddrPortFrom(a(p.Tuple.Src), p.Tuple.SrcPort).String(),
		netip.AddrPortFrom(a(p.Tuple.Dst), p.Tuple.DstPort).String()
}

// TestCapturesAgainstLinux runs the fragment captures through Parse and
// the Reassembler as the pipeline does and checks every frame against
// Linux's answer key: held and dropped fragments are NONE, the frame that
// completes a datagram is not, and the reassembled length is Linux's.
// Where Linux found the reassembled datagram malformed, Parse must too.
func TestCapturesAgainstLinux(t *testing.T) {
	dir := packettest.SharedDir(t)
	for _, name := range []string{
		"zeek/frag-ipv4-tcp-syn",
		"zeek/frag-ipv6-dns",
		"suricata-verify/frag-vlan-ipv4-tcp-syn",
		"suricata-verify/bench-defrag-spray-16k-frags",
		"suricata-verify/fuzz-ipv6-malformed-fragments-1",
		"suricata-verify/fuzz-ipv6-useless-fraghdr",
		"tcpdump/fuzz-ipv6-frag6-negative-len",
		"tcpdump/fuzz-ip6-frag-asan",
	} {
		t.Run(name, func(t *testing.T) {
			frames := packettest.ReadCapture(t, filepath.Join(dir, "pcaps", name+".pcap"))
			answers, ok := packettest.Answers(t, dir, name+".pcap")
			if !ok {
				t.Fatalf("%s: no answers in linux-expected", name)
			}
			if len(answers) != len(frames) {
				t.Fatalf("%d frames, %d answers", len(frames), len(answers))
			}
			r := New(Config{})
			exp := make([]Handle, 64)
			held := map[Handle]int{}
			var p, q packet.Parsed
			counts := map[string]int{}
			for i, f := range frames {
				a := answers[i]
				ms := uint32(f.Millis())
				r.Expire(ms, exp)
				rs := packet.ParseWith(f.Data, packet.LinkEthernet, packet.Options{IPv4Checksum: packet.ChecksumVerifyNonZero}, &p)
				var got string
				switch {
				case rs.IPLayerDrop():
					got = "NONE"
				case rs != packet.ReasonNone:
					got = "INVALID"
				case !p.Fragment.Is:
					got = "TRACKED"
				default:
					res := r.Add(ms, &p)
					counts[res.Status.String()]++
					switch res.Status {
					case StatusHeld:
						held[res.Datagram]++
						got = "NONE"
					case StatusDropped:
						got = "NONE"
					case StatusPass:
						got = "INVALID"
						if p.L4Off != 0 {
							got = "TRACKED"
						}
					case StatusComplete:
						got = "TRACKED"
						if m := completesRe.FindStringSubmatch(a.Note); m != nil {
							if n, _ := strconv.Atoi(m[1]); n != len(res.Frame) {
								t.Errorf("frame %d: reassembled %d bytes, Linux %d", a.N, len(res.Frame), n)
							}
						}
						if qs := packet.Parse(res.Frame, packet.LinkRawIP, &q); qs != packet.ReasonNone {
							got = "INVALID"
						}
						if m := ctNewRe.FindStringSubmatch(a.Note); m != nil {
							if proto, src, dst := endpoints(&q); proto != m[1] || src != m[2] || dst != m[3] {
								t.Errorf("frame %d: reassembled %s %s>%s, Linux %s", a.N, proto, src, dst, m[0])
							}
							counts["tuple checked"]++
						}
						delete(held, res.Datagram)
					}
				}
				want := a.State
				switch want {
				case "NEW", "ESTABLISHED", "RELATED", "UNTRACKED":
					want = "TRACKED"
				case "INVALID":
					if !strings.Contains(a.Note, "truncated/malformed") && a.Note != "" && !strings.Contains(a.Note, "snapped") {
						want = "TRACKED" // the tracker's INVALID, not a malformed packet
					}
				}
				if got != want {
					t.Errorf("frame %d: got %s (parse %q, fragment %+v), Linux %s %s", a.N, got, rs, p.Fragment, a.State, a.Note)
				}
			}
			t.Logf("%d frames; reassembly %v; %d datagrams still held", len(frames), counts, len(held))
		})
	}
}
