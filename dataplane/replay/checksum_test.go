package replay

import (
	"path/filepath"
	"testing"

	"github.com/statewall/statewall/config"
	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/dataplane/packet/packettest"
	"github.com/statewall/statewall/flowtable/ctstate"
)

// TestChecksumOption replays a SYN with a bad TCP checksum: INVALID with
// [conntrack] checksum = true (Linux's nf_conntrack_checksum=1), NEW with
// the default (checksum = false, as Linux's recorded answers were made).
func TestChecksumOption(t *testing.T) {
	shared := packettest.SharedDir(t)
	capture := filepath.Join(shared, "pcaps", "zeek", "fuzz-tcp-syn-bad-checksum.pcap")
	for _, tc := range []struct {
		text   string
		state  ctstate.State
		reason packet.DropReason
	}{
		{"[conntrack]\nchecksum = true\n[policy]\nforward = \"accept\"\n", ctstate.Invalid, packet.ReasonBadChecksum},
		{"[policy]\nforward = \"accept\"\n", ctstate.New, packet.ReasonNone},
	} {
		cfg, err := config.Parse("checksum.toml", []byte(tc.text))
		if err != nil {
			t.Fatal(err)
		}
		var got outcomes
		if _, err := File(capture, Options{Config: cfg, Observer: &got}); err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].State != tc.state || got[0].Reason != tc.reason {
			t.Errorf("checksum=%v: %+v, want %v (%v)", cfg.Conntrack.Checksum, got, tc.state, tc.reason)
		}
	}
}
