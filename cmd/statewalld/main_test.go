package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCPUProfile: --cpuprofile leaves a profile (gzip-compressed
// protobuf) however the run ends, here with a configuration that does
// not load.
func TestCPUProfile(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(cfg, []byte("[dataplane\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	prof := filepath.Join(dir, "cpu.pprof")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"run", "-c", cfg, "--cpuprofile", prof}, &stdout, &stderr); code != 1 {
		t.Fatalf("exit code %d, want 1 (a configuration that does not load)\n%s", code, stderr.String())
	}
	b, err := os.ReadFile(prof)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		t.Fatalf("profile of %d bytes does not start with gzip's magic", len(b))
	}
	if !strings.Contains(stderr.String(), "CPU profile written") {
		t.Errorf("no log line for the profile:\n%s", stderr.String())
	}
	if code := run([]string{"run", "-c", cfg, "--cpuprofile", filepath.Join(dir, "no", "such", "dir", "p")}, &stdout, &stderr); code != 1 {
		t.Errorf("exit code %d for a profile that cannot be created, want 1", code)
	}
}
