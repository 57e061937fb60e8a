package main

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// ourPrefix begins the symbols of this module's functions.
const ourPrefix = "github.com/statewall/statewall/"

// TestFastPathInlined reads the machine code of statewalld as it ships
// (deploy/build-statewalld.sh, with default.pgo) for the inlining the fast
// path's speed rests on. Profile-guided inlining follows the profile's
// call sites, which a change of the packet path moves: a stale profile
// left parseBurst calling the lookup's first step and the prefetcher for
// every packet (5-7% more instructions; perf/RESULTS.md), and nothing else
// says so. `make pgo` regenerates the profile.
func TestFastPathInlined(t *testing.T) {
	needDPDK(t)
	bin := buildDaemon(t)
	for _, c := range []struct {
		fn    string   // the function, without ourPrefix
		never []string // callees it must have inlined (without ourPrefix); nil: none of ours
	}{
		{"dataplane/pipeline.(*Worker).parseBurst", []string{
			"dataplane/packet.ParseTCP4", "dataplane/packet.ParseUDP4",
			"flowtable/conntrack.(*Tracker).BeginTCP4", "flowtable/conntrack.(*Tracker).BeginUDP4",
			"dataplane/pipeline.(*prefetcher).add", "dataplane/pipeline.frameOptions",
		}},
		{"dataplane/pipeline.(*Worker).prefetchEntries", []string{
			"flowtable/conntrack.(*Tracker).Candidate4", "flowtable/conntrack.(*Tracker).Candidate6",
			"flowtable.(*index).ReadBucket",
		}},
		{"dataplane/pipeline.(*Worker).decideBurst", []string{
			"dataplane/pipeline.(*Worker).processTCP4", "dataplane/pipeline.(*Worker).processUDP4",
			"dataplane/pipeline.(*Worker).cached", "dataplane/pipeline.(*Worker).acceptedFast",
		}},
		{"flowtable/conntrack.(*Tracker).TrackEstablished4", nil}, // written to call nothing
		{"dataplane/pipeline.(*Worker).parseFast6", []string{
			"dataplane/packet.ParseTCP6", "dataplane/packet.ParseUDP6", "dataplane/packet.fastIPv6",
			"flowtable/conntrack.(*Tracker).BeginTCP6", "flowtable/conntrack.(*Tracker).BeginUDP6",
			"flowtable.HashKey6", "dataplane/pipeline.(*prefetcher).add",
		}},
		{"dataplane/pipeline.(*Worker).process6", []string{
			"dataplane/pipeline.(*Worker).processTCP6", "dataplane/pipeline.(*Worker).processUDP6",
			"dataplane/pipeline.(*Worker).cached", "dataplane/pipeline.(*Worker).acceptedFast",
		}},
		{"flowtable/conntrack.(*Tracker).TrackEstablished6", nil},
	} {
		calls := callees(t, bin, ourPrefix+c.fn)
		for _, callee := range calls {
			if !strings.HasPrefix(callee, ourPrefix) {
				continue // the runtime's: stack growth, bounds panics
			}
			name := strings.TrimPrefix(callee, ourPrefix)
			if c.never == nil {
				t.Errorf("%s calls %s: it should call nothing of ours (make pgo?)", c.fn, name)
			}
			for _, n := range c.never {
				if name == n {
					t.Errorf("%s calls %s instead of inlining it (make pgo?)", c.fn, name)
				}
			}
		}
	}
}

// callRE is a CALL instruction of `go tool objdump` and its callee.
var callRE = regexp.MustCompile(`\bCALL ([^\s(]+(?:\([^)]*\)[^\s(]*)*)\(SB\)`)

// callees lists the functions fn's machine code in bin calls.
func callees(t *testing.T, bin, fn string) []string {
	t.Helper()
	out, err := exec.Command("go", "tool", "objdump", "-s", "^"+regexp.QuoteMeta(fn)+"$", bin).CombinedOutput()
	if err != nil {
		t.Fatalf("objdump %s: %v\n%s", fn, err, out)
	}
	if !strings.Contains(string(out), "TEXT "+fn+"(SB)") {
		t.Fatalf("objdump found no %s in %s", fn, bin)
	}
	var calls []string
	for _, m := range callRE.FindAllStringSubmatch(string(out), -1) {
		calls = append(calls, m[1])
	}
	return calls
}
