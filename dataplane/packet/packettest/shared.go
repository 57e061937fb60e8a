// Package packettest helps tests find the shared capture corpus and
// Linux's recorded per-packet answers. Tests that need them skip with a
// clear message where ../shared is absent (a user's clone) and fail under
// CI=true, where it must be present.
package packettest

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// SharedDir returns the absolute path of the shared folder (the repo's
// ../shared), or skips t (fails it under CI=true) when it is absent.
func SharedDir(t testing.TB) string {
	t.Helper()
	dir, err := repoRoot()
	if err == nil {
		d := filepath.Join(filepath.Dir(dir), "shared")
		if st, serr := os.Stat(filepath.Join(d, "pcaps")); serr == nil && st.IsDir() {
			return d
		}
		err = os.ErrNotExist
	}
	missing(t, "shared captures not found beside the repository (../shared)", err)
	return ""
}

// missing skips t for want of part of ../shared, or fails it under CI=true.
func missing(t testing.TB, what string, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s: %v", what, err)
	}
	t.Skipf("%s; skipping: %v", what, err)
}

// repoRoot walks up from the working directory to the folder with go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", os.ErrNotExist
		}
		dir = parent
	}
}

// Captures lists every capture under shared/pcaps as paths relative to it
// (e.g. "zeek/tcp-syn-then-rst.pcap").
func Captures(t testing.TB, shared string) []string {
	t.Helper()
	root := filepath.Join(shared, "pcaps")
	var out []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "linux-expected" {
			return filepath.SkipDir
		}
		if !d.IsDir() && isCapture(d.Name()) {
			rel, _ := filepath.Rel(root, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func isCapture(name string) bool {
	return strings.HasSuffix(name, ".pcap") || strings.HasSuffix(name, ".pcapng") || strings.HasSuffix(name, ".pcap.gz")
}

// Answer is Linux's recorded verdict for one frame of a capture.
type Answer struct {
	N     int    `json:"n"`
	State string `json:"state"`
	Note  string `json:"note"`
}

// Answers reads linux-expected's per-frame answers for a capture given as
// a path relative to shared/pcaps; ok is false when there are none. It
// skips t (fails it under CI=true) when linux-expected itself is absent.
func Answers(t testing.TB, shared, capture string) (answers []Answer, ok bool) {
	t.Helper()
	name := capture
	for _, ext := range []string{".pcap.gz", ".pcapng", ".pcap"} {
		if strings.HasSuffix(name, ext) {
			name = strings.TrimSuffix(name, ext)
			break
		}
	}
	dir := filepath.Join(shared, "pcaps", "linux-expected")
	f, err := os.Open(filepath.Join(dir, name+".jsonl"))
	if err != nil {
		if _, derr := os.Stat(dir); derr != nil {
			missing(t, "Linux's answer key not found in ../shared/pcaps/linux-expected", derr)
		}
		return nil, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var a Answer
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		answers = append(answers, a)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return answers, true
}
