package conntrack

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/statewall/statewall/alg"
	"github.com/statewall/statewall/alg/ftp"
	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/flowtable/ctstate"
)

// sharedDir returns ../shared relative to the repository root; it skips
// the test when that is absent, and fails instead under CI=true.
func sharedDir(t testing.TB) string {
	t.Helper()
	d := filepath.Join("..", "..", "..", "shared")
	if _, err := os.Stat(filepath.Join(d, "pcaps", "linux-expected")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("shared captures not found at %s (CI=true): %v", d, err)
		}
		t.Skipf("shared captures not found at %s: skipping", d)
	}
	return d
}

type frame struct {
	data []byte
	link packet.LinkType
	ok   bool
	ts   int64 // ns
}

// readFrames reads every frame of a pcap, pcapng or gzipped pcap.
func readFrames(path string) ([]frame, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, err
		}
		if raw, err = io.ReadAll(zr); err != nil {
			return nil, err
		}
	}
	var out []frame
	if len(raw) >= 4 && bytes.Equal(raw[:4], []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		r, err := pcapgo.NewNgReader(bytes.NewReader(raw), pcapgo.NgReaderOptions{WantMixedLinkType: true})
		if err != nil {
			return nil, err
		}
		for {
			data, ci, err := r.ReadPacketData()
			if err != nil {
				if errors.Is(err, io.EOF) {
					return out, nil
				}
				return out, err
			}
			dlt := uint32(r.LinkType())
			if len(ci.AncillaryData) > 0 {
				if lt, ok := ci.AncillaryData[0].(layers.LinkType); ok {
					dlt = uint32(lt)
				}
			}
			l, ok := packet.LinkTypeFromDLT(dlt)
			out = append(out, frame{data: data, link: l, ok: ok, ts: ci.Timestamp.UnixNano()})
		}
	}
	r, err := pcapgo.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	r.SetSnaplen(max(r.Snaplen(), 1<<18))
	l, ok := packet.LinkTypeFromDLT(uint32(r.LinkType()))
	for {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, err
		}
		out = append(out, frame{data: data, link: l, ok: ok, ts: ci.Timestamp.UnixNano()})
	}
}

type answer struct {
	N     int    `json:"n"`
	State string `json:"state"`
	Note  string `json:"note"`
}

func readAnswers(path string) ([]answer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []answer
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var a answer
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, sc.Err()
}

// clockMode is the replay clock.
type clockMode int

const (
	clockOracle  clockMode = iota // 2 ms per frame, as the answer key was recorded
	clockCapture                  // the capture's timestamps
)

// mismatch is one frame where the tracker and Linux disagree.
type mismatch struct {
	n           int
	got, want   string
	reason, tcp string
	note        string
}

// replayCapture tracks every frame of a capture and compares each frame's
// state with Linux's answer. Fragments are skipped (conntrack sees
// reassembled datagrams; reassembly is the pipeline's).
func replayCapture(t *testing.T, capPath, ansPath string, mode clockMode) (compared int, bad []mismatch) {
	t.Helper()
	frames, err := readFrames(capPath)
	if err != nil && len(frames) == 0 {
		t.Fatalf("%s: %v", capPath, err)
	}
	answers, err := readAnswers(ansPath)
	if err != nil {
		t.Fatalf("%s: %v", ansPath, err)
	}
	opts := DefaultOptions()
	opts.Capacity4, opts.Capacity6 = 1<<16, 1<<14
	x := alg.NewExpectations(1024)
	tr, err := New(opts, x, []HelperBinding{{Proto: packet.ProtoTCP, Port: ftp.DefaultPort, Helper: ftp.New(x, ftp.Config{})}})
	if err != nil {
		t.Fatal(err)
	}
	var p packet.Parsed
	var r Result
	var t0 int64
	for i, a := range answers {
		if i >= len(frames) {
			bad = append(bad, mismatch{n: a.N, got: "(missing frame)", want: a.State})
			continue
		}
		f := frames[i]
		var now uint32
		switch mode {
		case clockOracle:
			now = uint32(1000 + 2*i)
		case clockCapture:
			if i == 0 {
				t0 = f.ts
			}
			now = uint32(1000 + (f.ts-t0)/1e6)
		}
		got := "NONE"
		var reason packet.DropReason
		var tcpState TCPState
		if !f.ok {
			got = "NONE"
		} else if pr := packet.Parse(f.data, f.link, &p); pr != packet.ReasonNone {
			if !pr.IPLayerDrop() {
				got, reason = "INVALID", pr
			}
		} else if p.Fragment.Is && (p.Fragment.Offset != 0 || p.Fragment.More) {
			continue // held for reassembly: the pipeline's, not the tracker's
		} else {
			tr.Track(now, &p, tr.Hash(&p), &r)
			got, reason, tcpState = r.State.String(), r.Reason, r.TCPState
			if r.State != ctstate.Invalid {
				// The answer key's ruleset accepts everything.
				_ = tr.Confirm(now, &p, &r)
			}
		}
		compared++
		if got != a.State {
			bad = append(bad, mismatch{n: a.N, got: got, want: a.State, reason: reason.String(), tcp: tcpState.String(), note: a.Note})
		}
	}
	return compared, bad
}

// replayExcluded says why a capture is left out of the strict comparison.
func replayExcluded(name string) string {
	_ = name
	return ""
}

func captureList(t *testing.T, dir string) []string {
	var files []string
	root := filepath.Join(dir, "pcaps")
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.Contains(p, "linux-expected") || d.IsDir() {
			return nil
		}
		for _, ext := range []string{".pcap", ".pcapng", ".pcap.gz"} {
			if strings.HasSuffix(p, ext) {
				files = append(files, p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func answerPath(dir, capPath string) string {
	rel, _ := filepath.Rel(filepath.Join(dir, "pcaps"), capPath)
	for _, ext := range []string{".pcap.gz", ".pcapng", ".pcap"} {
		if strings.HasSuffix(rel, ext) {
			rel = strings.TrimSuffix(rel, ext) + ".jsonl"
			break
		}
	}
	return filepath.Join(dir, "pcaps", "linux-expected", rel)
}

// TestReplayLinuxAnswers replays every shared capture (except FTP and
// fragment captures, which need the ALG and reassembly) with the answer
// key's timing and requires Linux's state on every frame.
func TestReplayLinuxAnswers(t *testing.T) {
	dir := sharedDir(t)
	for _, capPath := range captureList(t, dir) {
		rel, _ := filepath.Rel(filepath.Join(dir, "pcaps"), capPath)
		name := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(rel, ".gz"), ".pcap"), ".pcapng")
		ans := answerPath(dir, capPath)
		if _, err := os.Stat(ans); err != nil {
			continue
		}
		t.Run(name, func(t *testing.T) {
			if why := replayExcluded(name); why != "" {
				t.Skip(why)
			}
			n, bad := replayCapture(t, capPath, ans, clockOracle)
			for i, m := range bad {
				if i == 20 {
					t.Errorf("... %d more", len(bad)-20)
					break
				}
				t.Errorf("frame %d: got %s (%s %s), Linux %s (%s)", m.n, m.got, m.reason, m.tcp, m.want, m.note)
			}
			t.Logf("%d frames compared, %d mismatches", n, len(bad))
		})
	}
}

// TestReplayCaptureClock replays the same captures with their own
// timestamps as the clock and reports (without failing) where timeouts
// that the answer key's 2 ms spacing never reached change a state.
func TestReplayCaptureClock(t *testing.T) {
	dir := sharedDir(t)
	total := 0
	for _, capPath := range captureList(t, dir) {
		rel, _ := filepath.Rel(filepath.Join(dir, "pcaps"), capPath)
		ans := answerPath(dir, capPath)
		if _, err := os.Stat(ans); err != nil || replayExcluded(rel) != "" {
			continue
		}
		_, bad := replayCapture(t, capPath, ans, clockCapture)
		total += len(bad)
		for i, m := range bad {
			if i == 5 {
				t.Logf("%s: ... %d more", rel, len(bad)-5)
				break
			}
			t.Logf("%s frame %d: got %s (%s %s), Linux (2 ms spacing) %s", rel, m.n, m.got, m.reason, m.tcp, m.want)
		}
	}
	t.Logf("capture-clock differences from the 2 ms answer key: %d frames", total)
	_ = fmt.Sprint()
}
