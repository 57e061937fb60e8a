package replay

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/statewall/statewall/config"
	"github.com/statewall/statewall/config/configtest"
	"github.com/statewall/statewall/dataplane/packet/packettest"
	"github.com/statewall/statewall/dataplane/pipeline"
	"github.com/statewall/statewall/flowtable/ctstate"
)

// relatedOnly admits the FTP control connection and, for data, nothing
// but RELATED: a data connection passes only if the ALG announced it.
const relatedOnly = `
[alg.ftp]
enabled = %v

` + configtest.Stateful + `
[[rule]]
name = "ftp-control"
ct_state = "NEW"
proto = "tcp"
dport = 21
action = "accept"
`

type outcomes []pipeline.Outcome

func (o *outcomes) Observe(x *pipeline.Outcome) { *o = append(*o, *x) }

// TestFTPDataIsRelatedOnlyWithTheALG replays real FTP sessions (active and
// passive, IPv4 and IPv6) with a ruleset that admits data connections only
// as RELATED: with the ALG every data connection's first packet is RELATED
// and accepted; without it the same packet is NEW and dropped by the policy.
func TestFTPDataIsRelatedOnlyWithTheALG(t *testing.T) {
	shared := packettest.SharedDir(t)
	for _, c := range []struct {
		capture string
		related []int // frame numbers of the data connections' SYNs
	}{
		{"zeek/alg-ftp-ipv4-pasv-port.pcap", []int{22, 40, 60, 78}},
		{"zeek/alg-ftp-ipv6-epsv-eprt.pcap", []int{30, 47, 70, 94, 117}},
		{"zeek/alg-ftp-ipv4-epsv-retr.pcap", []int{26}},
	} {
		t.Run(c.capture, func(t *testing.T) {
			for _, alg := range []bool{true, false} {
				cfg, err := config.Parse("related-only.toml", []byte(fmt.Sprintf(relatedOnly, alg)))
				if err != nil {
					t.Fatal(err)
				}
				var got outcomes
				if _, err := File(filepath.Join(shared, "pcaps", c.capture), Options{Config: cfg, Observer: &got}); err != nil {
					t.Fatal(err)
				}
				for _, n := range c.related {
					o := got[n-1]
					switch {
					case alg && (o.State != ctstate.Related || o.Verdict != pipeline.VerdictAccept):
						t.Errorf("ALG on: frame %d is %v/%v, want RELATED/accept", n, o.State, o.Verdict)
					case !alg && (o.State != ctstate.New || o.Verdict != pipeline.VerdictDrop || o.Rule != -1):
						t.Errorf("ALG off: frame %d is %v/%v (rule %d), want NEW dropped by the policy", n, o.State, o.Verdict, o.Rule)
					}
				}
			}
		})
	}
}
