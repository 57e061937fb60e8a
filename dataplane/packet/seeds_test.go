package packet

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGenerateFuzzSeeds writes seed corpora for the fuzz targets from
// frames of the shared captures into testdata/fuzz. It runs only with
// STATEWALL_GEN_FUZZ_SEEDS=1; the seeds are committed so that `go test`
// runs them without ../shared.
func TestGenerateFuzzSeeds(t *testing.T) {
	if os.Getenv("STATEWALL_GEN_FUZZ_SEEDS") != "1" {
		t.Skip("set STATEWALL_GEN_FUZZ_SEEDS=1 to regenerate testdata/fuzz")
	}
	dir := sharedDir(t)
	// Capture (relative to pcaps/) and how many of its frames to take.
	picks := map[string]int{
		"zeek/fuzz-eth-trunc-hdr.pcap": 1, "zeek/fuzz-icmp-header-trunc.pcap": 1, "zeek/fuzz-ip4-trunc.pcap": 1,
		"zeek/fuzz-ip6-ext-trunc.pcap": 1, "zeek/fuzz-ip6-trunc.pcap": 1, "zeek/fuzz-ipv4-internally-truncated-header.pcap": 1,
		"zeek/fuzz-ipv4-truncated-broken-header.pcap": 1, "zeek/fuzz-tcp-truncated-header.pcap": 4,
		"zeek/fuzz-tcp-truncated-oob.pcapng": 1, "zeek/fuzz-udp-contents-truncated-oob.pcap": 1,
		"tcpdump/fuzz-icmp-cksum-oobr-1.pcap": 1, "tcpdump/fuzz-ip6-frag-asan.pcap": 1, "tcpdump/fuzz-ipv4-invalid-hdr-length.pcap": 1,
		"tcpdump/fuzz-ipv4-invalid-total-length.pcap": 1, "tcpdump/fuzz-ipv6-frag6-negative-len.pcap": 1,
		"tcpdump/fuzz-ipv6-invalid-length.pcap": 1, "tcpdump/fuzz-linktype-ipv4-invalid.pcap": 1,
		"tcpdump/fuzz-tcp-header-heapoverflow.pcap": 1, "tcpdump/fuzz-tcp-rst-data-trunc.pcap": 1,
		"tcpdump/vlan-8021ad-qinq.pcap": 1, "tcpdump/reader-tcp-handshake-nanosec.pcap": 1,
		"suricata-verify/fuzz-ipv4-bad-options.pcap": 8, "suricata-verify/fuzz-ipv6-malformed-fragments-1.pcap": 9,
		"suricata-verify/fuzz-ipv6-useless-fraghdr.pcap": 4, "suricata-verify/fuzz-udp-len-invalid.pcap": 1,
		"suricata-verify/fuzz-udp-hlen-invalid.pcap": 1, "suricata-verify/fuzz-ipv4-udp-len-exceeds-ip.pcap": 1,
		"suricata-verify/frag-vlan-ipv4-tcp-syn.pcap": 3, "suricata-verify/bench-defrag-spray-16k-frags.pcap": 4,
		"suricata-verify/alg-ftp-port-malformed-nulllink.pcap": 1, "suricata-verify/tcp-rst-with-data-vlan.pcap": 1,
		"ndpi/fuzz-malformed-icmp.pcap": 1, "ndpi/fuzz-badpackets.pcap": 3, "ndpi/icmp6-portunreach-related-udp.pcapng": 10,
		"zeek/frag-ipv4-tcp-syn.pcap": 2, "zeek/frag-ipv6-dns.pcap": 8, "zeek/vlan-qinq-http.pcap": 1,
		"zeek/tcp-window-scale-255.pcap": 1, "zeek/icmp6-traceroute-errors-noflow.pcap": 12,
		"zeek/icmp-destunreach-udp-noflow.pcap": 1, "zeek/icmp-echo-5-pings.pcap": 1,
	}
	type seed struct {
		name string
		args []any
	}
	var seeds = map[string][]seed{}
	add := func(target, name string, args ...any) {
		seeds[target] = append(seeds[target], seed{name, args})
	}
	// Frame 26 of the SMTP capture is an ICMP fragmentation-needed error;
	// frame 57 of the KakaoTalk capture a port unreachable.
	extra := map[string][]int{"zeek/icmp-fragneeded-related-tcp.pcap": {26}, "ndpi/icmp-portunreach-related-dns.pcap": {57}}
	for rel, n := range picks {
		for i := 1; i <= n; i++ {
			extra[rel] = append(extra[rel], i)
		}
	}
	for rel, idx := range extra {
		frames, _ := readCapture(filepath.Join(dir, "pcaps", rel))
		base := strings.NewReplacer("/", "-", ".pcapng", "", ".pcap", "").Replace(rel)
		for _, i := range idx {
			if i > len(frames) || !frames[i-1].ok {
				continue
			}
			fr := frames[i-1]
			name := fmt.Sprintf("%s-%d", base, i)
			add("FuzzParse", name, fr.data, byte(fr.link))
			var p Parsed
			r := Parse(fr.data, fr.link, &p)
			if r == ReasonNotIP || r == ReasonRuntFrame || r == ReasonVLANTruncated {
				continue
			}
			l3 := fr.data[p.L3Off:]
			if p.Family() == FamilyIPv4 || (len(l3) > 0 && l3[0]>>4 == 4) {
				add("FuzzIPv4", name, l3)
			} else {
				add("FuzzIPv6", name, l3)
			}
			if r != ReasonNone {
				continue
			}
			if p.Tuple.Proto == ProtoTCP && p.L4Off != 0 && int(p.TCP.HeaderLen) > TCPMinSize {
				o := int(p.L4Off) + TCPMinSize
				e := min(int(p.L4Off)+int(p.TCP.HeaderLen), int(p.L3Off)+int(p.IPLen))
				if o < e {
					add("FuzzTCPOptions", name, fr.data[o:e])
				}
			}
			if p.ICMP.IsError && p.L4Off != 0 {
				add("FuzzICMPInner", name, fr.data[int(p.L4Off)+ICMPSize:int(p.L3Off)+int(p.IPLen)], p.Family() == FamilyIPv6)
			}
			if p.Tuple.Proto == ProtoUDP && p.L4Off != 0 {
				add("FuzzUDP", name, fr.data[p.L4Off:int(p.L3Off)+int(p.IPLen)])
			}
			if (p.Tuple.Proto == ProtoICMP || p.Tuple.Proto == ProtoICMPv6) && p.L4Off != 0 {
				add("FuzzICMP", name, fr.data[p.L4Off:int(p.L3Off)+int(p.IPLen)])
			}
			if fr.link == LinkEthernet {
				add("FuzzEthernet", name, fr.data[:min(len(fr.data), 64)])
			}
		}
	}
	for target, list := range seeds {
		d := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, s := range list {
			var b strings.Builder
			b.WriteString("go test fuzz v1\n")
			for _, a := range s.args {
				switch v := a.(type) {
				case []byte:
					fmt.Fprintf(&b, "[]byte(%q)\n", v)
				case byte:
					fmt.Fprintf(&b, "byte(%q)\n", v)
				case bool:
					fmt.Fprintf(&b, "bool(%v)\n", v)
				}
			}
			if err := os.WriteFile(filepath.Join(d, s.name), []byte(b.String()), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("%s: %d seeds", target, len(list))
	}
}
