package control

import (
	"encoding/json"
	"net/netip"
	"net/url"
	"testing"
)

func TestEntryText(t *testing.T) {
	e := tcpEntry("198.18.0.1", "198.18.0.2", 40000, 80, "ESTABLISHED")
	e.Timeout, e.Flags = 431999, FlagAssured
	want := "tcp      6 431999 ESTABLISHED src=198.18.0.1 dst=198.18.0.2 sport=40000 dport=80 src=198.18.0.2 dst=198.18.0.1 sport=80 dport=40000 [ASSURED] mark=0 use=1"
	if got := string(e.AppendText(nil)); got != want {
		t.Errorf("tcp:\n got %s\nwant %s", got, want)
	}

	u := tcpEntry("fd00::1", "fd00::2", 5353, 53, "")
	u.Proto, u.Timeout, u.Flags, u.Acct = ProtoUDP, 29, FlagUnreplied, true
	u.Original.Packets, u.Original.Bytes = 1, 76
	want = "udp      17 29 src=fd00::1 dst=fd00::2 sport=5353 dport=53 packets=1 bytes=76 [UNREPLIED] src=fd00::2 dst=fd00::1 sport=53 dport=5353 packets=0 bytes=0 mark=0 use=1"
	if got := string(u.AppendText(nil)); got != want {
		t.Errorf("udp:\n got %s\nwant %s", got, want)
	}

	i := testEntries()[5]
	want = "icmp     1 29 src=198.18.0.1 dst=198.18.0.2 type=8 code=0 id=7 src=198.18.0.2 dst=198.18.0.1 type=0 code=0 id=7 mark=0 use=1"
	if got := string(i.AppendText(nil)); got != want {
		t.Errorf("icmp:\n got %s\nwant %s", got, want)
	}
}

func TestEntryJSON(t *testing.T) {
	for _, e := range testEntries() {
		e.Flags = FlagAssured | FlagExpected
		b, err := json.Marshal(&e)
		if err != nil {
			t.Fatal(err)
		}
		var back Entry
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if back != e {
			t.Errorf("round trip of %s gave %+v", b, back)
		}
	}
	b, _ := json.Marshal(testEntries()[0])
	want := `{"proto":"tcp","original":{"src":"198.18.0.1:40000","dst":"198.18.0.2:80"},"reply":{"src":"198.18.0.2:80","dst":"198.18.0.1:40000"},"state":"ESTABLISHED","timeout":100,"flags":[],"mark":0,"worker":0}`
	if string(b) != want {
		t.Errorf("json:\n got %s\nwant %s", b, want)
	}
}

func TestFilterValues(t *testing.T) {
	f := Filter{Proto: ProtoTCP, State: "TIME_WAIT", Src: netip.MustParsePrefix("198.18.0.0/15"),
		Dst: netip.MustParsePrefix("fd00::1/128"), SrcPort: 1, DstPort: 65535}
	back, err := FilterFromValues(f.Values())
	if err != nil || back != f {
		t.Errorf("round trip %+v: %+v, %v", f, back, err)
	}
	for _, bad := range []string{"proto=xyz", "state=OPEN", "src=1.2.3", "sport=0", "dport=70000", "color=red", "proto=tcp&proto=udp"} {
		v, _ := parseQuery(bad)
		if _, err := FilterFromValues(v); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	p, err := ParsePrefix("::ffff:198.18.0.1")
	if err != nil || p != netip.MustParsePrefix("198.18.0.1/32") {
		t.Errorf("mapped address: %v %v", p, err)
	}
}

func parseQuery(s string) (map[string][]string, error) {
	v, err := url.ParseQuery(s)
	return v, err
}
