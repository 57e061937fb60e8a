package config

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/bad/*.err from the current output")

// TestBadFixtures checks each testdata/bad/NAME.toml fails with exactly the
// text in NAME.err.
func TestBadFixtures(t *testing.T) {
	files, _ := filepath.Glob("testdata/bad/*.toml")
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Parse(filepath.Base(f), data)
			if err == nil {
				t.Fatal("loaded without error")
			}
			errFile := strings.TrimSuffix(f, ".toml") + ".err"
			if *update {
				os.WriteFile(errFile, []byte(err.Error()+"\n"), 0o644)
			}
			want, rerr := os.ReadFile(errFile)
			if rerr != nil {
				t.Fatal(rerr)
			}
			if got := err.Error() + "\n"; got != string(want) {
				t.Errorf("error text:\n got: %s\nwant: %s", got, want)
			}
			var es Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Errorf("error is %T, want Errors", err)
			}
		})
	}
}

func TestGoodFixtures(t *testing.T) {
	files, _ := filepath.Glob("testdata/good/*.toml")
	examples, _ := filepath.Glob("../deploy/examples/*.toml")
	files = append(files, examples...)
	if len(examples) < 2 {
		t.Fatal("deploy/examples missing")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if _, err := Load(f); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	cfg, err := Parse("empty.toml", nil)
	if err != nil {
		t.Fatal(err)
	}
	to := cfg.Conntrack.Timeouts
	for _, c := range []struct {
		got, want time.Duration
	}{
		{to.TCPSynSent, 120 * time.Second}, {to.TCPSynRecv, 60 * time.Second},
		{to.TCPEstablished, 432000 * time.Second}, {to.TCPFinWait, 120 * time.Second},
		{to.TCPCloseWait, 60 * time.Second}, {to.TCPLastAck, 30 * time.Second},
		{to.TCPTimeWait, 120 * time.Second}, {to.TCPClose, 10 * time.Second},
		{to.TCPRetrans, 300 * time.Second}, {to.TCPUnacknowledged, 300 * time.Second},
		{to.UDP, 30 * time.Second}, {to.UDPStream, 120 * time.Second},
		{to.ICMP, 30 * time.Second}, {to.Generic, 600 * time.Second},
	} {
		if c.got != c.want {
			t.Errorf("timeout %v, want %v", c.got, c.want)
		}
	}
	ct := cfg.Conntrack
	if !ct.TCPLoose || ct.TCPBeLiberal || ct.VLANZones || ct.Checksum {
		t.Errorf("conntrack defaults %+v", ct)
	}
	if !cfg.FTP.Enabled || len(cfg.FTP.Ports) != 1 || cfg.FTP.Ports[0] != 21 || cfg.FTP.MaxExpected != 1 || cfg.FTP.ExpectTimeout != 300*time.Second {
		t.Errorf("ftp defaults %+v", cfg.FTP)
	}
	if cfg.Metrics.Listen != "127.0.0.1:9469" || cfg.Control.Socket != "/run/statewall/control.sock" || cfg.Control.Mode != 0o600 {
		t.Errorf("listen defaults %+v %+v", cfg.Metrics, cfg.Control)
	}
	if cfg.Reload.Existing != ExistingRecheck || !cfg.Reload.Watch || cfg.Policy.Forward != Drop {
		t.Errorf("reload/policy defaults %+v %+v", cfg.Reload, cfg.Policy)
	}
}

func TestLabSemantics(t *testing.T) {
	cfg, err := Load("../deploy/examples/lab.toml")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Ports) != 2 || cfg.Ports[0].Peer != "wan" {
		t.Fatalf("ports %+v", cfg.Ports)
	}
	var http Rule
	for _, r := range cfg.Rules {
		if r.Name == "http" {
			http = r
		}
	}
	if http.Name != "http" || len(http.Match.DstPorts) != 2 || len(http.Match.Dst) != 2 ||
		len(http.Match.InPorts) != 1 || http.Match.InPorts[0] != 0 {
		t.Errorf("http rule %+v", http)
	}
	if cfg.Conntrack.Timeouts.TCPEstablished != 5*24*time.Hour || cfg.Conntrack.Timeouts.UDP != 30*time.Second {
		t.Errorf("timeouts %+v", cfg.Conntrack.Timeouts)
	}
}

func TestPositions(t *testing.T) {
	text := `a = 1
[t]
b = [
  1,
  2, # ]
]
"q.k" = 2
[[r]]
x = 1
[[r]]
x = """
y = 2
"""
z.w = 3
[[r.s]]
v = 1
`
	p := scanPositions(text)
	for path, want := range map[string]int{
		"a": 1, "t": 2, "t.b": 3, "t.q.k": 7, "r[0]": 8, "r[0].x": 9, "r[1].x": 11,
		"r[1].z.w": 14, "r[1].s[0]": 15, "r[1].s[0].v": 16, "r[1].y": 10, "r[5].x": 8,
	} {
		if got := p.line(path); got != want {
			t.Errorf("line(%q) = %d, want %d", path, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, dir := range []string{"testdata/good/*.toml", "testdata/bad/*.toml", "../deploy/examples/*.toml"} {
		files, _ := filepath.Glob(dir)
		for _, file := range files {
			data, _ := os.ReadFile(file)
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("fuzz.toml", data)
		if err == nil && cfg == nil {
			t.Fatal("nil config without error")
		}
	})
}
