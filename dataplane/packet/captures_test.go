package packet

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// sharedDir returns ../shared relative to the repository root, skipping
// the test when it is absent (failing under CI=true).
func sharedDir(t testing.TB) string {
	t.Helper()
	d := filepath.Join("..", "..", "..", "shared")
	if _, err := os.Stat(filepath.Join(d, "pcaps")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("shared captures not found at %s (CI=true): %v", d, err)
		}
		t.Skipf("shared captures not found at %s: skipping", d)
	}
	return d
}

// captureFrame is one frame of a capture with its link type.
type captureFrame struct {
	data []byte
	link LinkType
	ok   bool // the link type is one Parse reads
	ts   int64
}

// readCapture reads every frame of a pcap, pcapng or gzipped capture.
// Frames read before a reader error are returned with the error.
func readCapture(path string) ([]captureFrame, error) {
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
	var out []captureFrame
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
			l, ok := LinkTypeFromDLT(dlt)
			out = append(out, captureFrame{data: data, link: l, ok: ok, ts: ci.Timestamp.UnixNano()})
		}
	}
	r, err := pcapgo.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	// Read frames longer than the declared snap length (a broken header
	// must not hide them).
	r.SetSnaplen(max(r.Snaplen(), 1<<18))
	l, ok := LinkTypeFromDLT(uint32(r.LinkType()))
	for {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, err
		}
		out = append(out, captureFrame{data: data, link: l, ok: ok, ts: ci.Timestamp.UnixNano()})
	}
}

// allCaptures lists every capture under dir/pcaps.
func allCaptures(t testing.TB, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(filepath.Join(dir, "pcaps"), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.Contains(p, "linux-expected") {
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
	if len(files) == 0 {
		t.Fatalf("no captures under %s", dir)
	}
	return files
}

// expectation is one line of the Linux answer key.
type expectation struct {
	N     int    `json:"n"`
	State string `json:"state"`
	Note  string `json:"note"`
}

// answerKey reads the answer key of a capture (nil when there is none).
func answerKey(t testing.TB, dir, capture string) []expectation {
	t.Helper()
	rel, err := filepath.Rel(filepath.Join(dir, "pcaps"), capture)
	if err != nil {
		t.Fatal(err)
	}
	for _, ext := range []string{".pcap.gz", ".pcapng", ".pcap"} {
		rel = strings.TrimSuffix(rel, ext)
	}
	f, err := os.Open(filepath.Join(dir, "pcaps", "linux-expected", rel+".jsonl"))
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []expectation
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e expectation
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("%s: %v", f.Name(), err)
		}
		out = append(out, e)
	}
	return out
}

// TestParseEveryCapture parses every frame of every shared capture without
// panic, and checks each frame's parse outcome against Linux's answer key:
// a frame ip_rcv drops (NONE, "ip_rcv drops it") must fail with a reason
// that IPLayerDrop accepts; a frame conntrack saw must not; conntrack's
// "truncated/malformed packet" must be a parse failure.
func TestParseEveryCapture(t *testing.T) {
	dir := sharedDir(t)
	opt := Options{IPv4Checksum: ChecksumVerifyNonZero, Loopback: true} // as replay parses
	for _, path := range allCaptures(t, dir) {
		name := strings.TrimPrefix(path, filepath.Join(dir, "pcaps")+"/")
		t.Run(name, func(t *testing.T) {
			frames, err := readCapture(path)
			if err != nil {
				t.Logf("reader stopped after %d frames: %v", len(frames), err)
			}
			key := answerKey(t, dir, path)
			var p Parsed
			counts := map[DropReason]int{}
			for i, f := range frames {
				if !f.ok {
					t.Logf("frame %d: link type not read", i+1)
					continue
				}
				r := ParseWith(f.data, f.link, opt, &p)
				counts[r]++
				if f.link == LinkEthernet {
					checkFast4(t, f.data, opt)
				}
				if i >= len(key) {
					continue
				}
				e := key[i]
				switch {
				case e.State == "NONE" && strings.Contains(e.Note, "ip_rcv drops"):
					if !r.IPLayerDrop() {
						t.Errorf("frame %d: Linux: %s; Parse: %q", e.N, e.Note, r)
					}
				case e.State == "NONE" && strings.Contains(e.Note, "truncated Ethernet"):
					if r != ReasonRuntFrame {
						t.Errorf("frame %d: Linux: %s; Parse: %q", e.N, e.Note, r)
					}
				case e.State == "NONE":
					// not IP, or a fragment: reassembly decides (the
					// answer key does not tell a held fragment from one
					// ipv6_rcv drops).
					if r != ReasonNone && !r.IPLayerDrop() {
						t.Errorf("frame %d: Linux: NONE %s; Parse: %q", e.N, e.Note, r)
					}
				case strings.Contains(e.Note, "truncated/malformed"):
					if !r.IsParseFailure() || r.IPLayerDrop() {
						if !p.Fragment.Is {
							t.Errorf("frame %d: Linux: %s %s; Parse: %q", e.N, e.State, e.Note, r)
						}
					}
				default:
					if r.IPLayerDrop() {
						t.Errorf("frame %d: Linux: %s %s; Parse: %q", e.N, e.State, e.Note, r)
					}
				}
			}
			t.Logf("%d frames: %v", len(frames), counts)
		})
	}
}
