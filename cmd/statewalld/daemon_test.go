package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/statewall/statewall/config"
	"github.com/statewall/statewall/config/configtest"
	"github.com/statewall/statewall/dataplane/packet/packettest"
	"github.com/statewall/statewall/dataplane/pipeline"
	"github.com/statewall/statewall/dataplane/replay"
)

// needDPDK skips (fails under CI=true) where DPDK cannot run: not root or
// no libdpdk.
func needDPDK(t *testing.T) {
	t.Helper()
	why := ""
	if os.Geteuid() != 0 {
		why = "needs root"
	} else if err := exec.Command("pkg-config", "--exists", "libdpdk").Run(); err != nil {
		why = "libdpdk not installed"
	}
	if why == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("DPDK daemon test: %s (CI=true)", why)
	}
	t.Skipf("DPDK daemon test: %s", why)
}

// daemonBuild is statewalld as it ships (deploy/build-statewalld.sh),
// built for the first test that needs it and removed by TestMain.
var daemonBuild struct {
	once sync.Once
	dir  string
	bin  string
	out  []byte
	err  error
}

// buildDaemon builds statewalld once per test binary and returns its path.
func buildDaemon(t *testing.T) string {
	t.Helper()
	b := &daemonBuild
	b.once.Do(func() {
		if b.dir, b.err = os.MkdirTemp("", "statewalld-test-"); b.err != nil {
			return
		}
		b.bin = filepath.Join(b.dir, "statewalld")
		b.out, b.err = exec.Command("bash", "../../deploy/build-statewalld.sh", b.bin).CombinedOutput()
	})
	if b.err != nil {
		t.Fatalf("building statewalld: %v\n%s", b.err, b.out)
	}
	return b.bin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if daemonBuild.dir != "" {
		os.RemoveAll(daemonBuild.dir)
	}
	os.Exit(code)
}

const daemonRules = `
` + configtest.Stateful + `
[[rule]]
name = "new-ftp-web-ping"
ct_state = "NEW"
proto = "tcp"
dport = [21, 25, 80]
action = "accept"

[[rule]]
name = "ping"
ct_state = "NEW"
proto = "icmp"
action = "accept"
`

// daemonConfig is the daemon's config for replaying capture. The
// captures were taken on senders, some before their transmit offload
// filled in IPv4 header checksums: "zero-ok" takes those zeros as replay
// does.
func daemonConfig(dir, capture string, metricsAddr string, workers int, checksum bool) string {
	return fmt.Sprintf(`
[conntrack]
checksum = %v

[dataplane]
workers = %d
flow_memory = "16MiB"
hugepages = false
eal_args = ["--no-pci", "--no-shconf", "--in-memory"]
ipv4_checksum = "zero-ok"

[[port]]
name = "in"
device = "net_pcap0,rx_pcap=%s,tx_pcap=%s"
peer = "out"

[[port]]
name = "out"
device = "net_pcap1,tx_pcap=%s"
peer = "in"

[metrics]
listen = %q

[control]
socket = %q
%s`, checksum, workers, capture, filepath.Join(dir, "in-tx.pcap"), filepath.Join(dir, "out-tx.pcap"), metricsAddr, filepath.Join(dir, "ctl.sock"), daemonRules)
}

// TestDaemonMatchesReplay runs captures from a net_pcap source through
// statewalld (DPDK virtual devices, no hugepages) into a net_pcap sink and
// checks that exactly the frames replay accepts come out, in order; the
// Prometheus endpoint, scraped while the daemon runs, counts the same.
// Some run with transport checksums verified (right ones in a whole FTP
// session, a wrong one in a SYN).
func TestDaemonMatchesReplay(t *testing.T) {
	needDPDK(t)
	shared := packettest.SharedDir(t)
	bin := buildDaemon(t)
	for _, tc := range []struct {
		capture  string
		workers  int
		checksum bool // [conntrack] checksum = true: the fast path sums them
	}{
		{"zeek/alg-ftp-ipv4-pasv-port.pcap", 1, false},
		{"zeek/icmp-fragneeded-related-tcp.pcap", 1, false},
		{"zeek/tcp-handshake-reorder.pcap", 1, false},
		{"zeek/icmp-echo-5-pings.pcap", 1, false},
		{"suricata-verify/alg-ftp-all-data-ipv4.pcap", 1, false},
		{"suricata-verify/alg-ftp-all-data-ipv4.pcap", 1, true},
		{"ndpi/bench-gnutella-750-flows.pcap", 1, true},
		{"zeek/fuzz-tcp-syn-bad-checksum.pcap", 1, true},
		// Two workers on one single-queue port: worker 0 spreads frames
		// to their connection's owner; forwarding order across workers
		// differs, the set of frames must not.
		{"zeek/icmp-fragneeded-related-tcp.pcap", 2, false},
		{"ndpi/bench-gnutella-750-flows.pcap", 2, false},
		{"suricata-verify/alg-ftp-all-data-ipv4.pcap", 2, false},
	} {
		c := tc.capture
		t.Run(fmt.Sprintf("%s/workers=%d/checksum=%v", c, tc.workers, tc.checksum), func(t *testing.T) {
			// Not t.TempDir: the subtest's name has a '=', which DPDK's
			// devargs would split on.
			dir, err := os.MkdirTemp("", "statewalld-test-")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(dir) })
			capture := filepath.Join(shared, "pcaps", c)
			addr := freeAddr(t)
			cfgPath := filepath.Join(dir, "statewall.toml")
			if err := os.WriteFile(cfgPath, []byte(daemonConfig(dir, capture, addr, tc.workers, tc.checksum)), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Load(cfgPath)
			if err != nil {
				t.Fatal(err)
			}
			// What replay accepts, frame by frame.
			var want [][]byte
			frames := readFrames(t, capture)
			i := 0
			obs := observerFunc(func(o *pipeline.Outcome) {
				if o.Verdict == pipeline.VerdictAccept || o.Verdict == pipeline.VerdictHold {
					want = append(want, frames[i])
				}
				i++
			})
			sum, err := replay.File(capture, replay.Options{Config: cfg, Observer: obs})
			if err != nil {
				t.Fatal(err)
			}

			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, "run", "-c", cfgPath, "--duration", "4s")
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			scraped, ok := scrapeWhenDone(addr, sum.Frames)
			if !ok {
				cancel()
				_ = cmd.Wait()
				t.Fatalf("metrics never counted %d packets:\n%s\nstatewalld:\n%s", sum.Frames, grep(scraped, "statewall_packets_total"), stderr.String())
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("statewalld: %v\n%s", err, stderr.String())
			}
			got := readFrames(t, filepath.Join(dir, "out-tx.pcap"))
			if len(got) != len(want) {
				t.Fatalf("daemon forwarded %d frames, replay accepted %d\n%s", len(got), len(want), stdout.String())
			}
			if tc.workers > 1 {
				sortFrames(got)
				sortFrames(want)
			}
			for k := range got {
				if !bytes.Equal(got[k], want[k]) {
					t.Fatalf("forwarded frame %d differs from replay's %dth accepted frame", k+1, k+1)
				}
			}
			if got := sumMetric(grepAll(scraped, "statewall_packets_total{", `verdict="accept"`), "statewall_packets_total"); got != sum.ByVerdict["accept"] {
				t.Errorf("metrics do not count %d accepted packets:\n%s", sum.ByVerdict["accept"], grep(scraped, "statewall_packets_total"))
			}
			if !strings.Contains(stdout.String(), fmt.Sprintf("%d packets", sum.Frames)) {
				t.Errorf("summary does not count %d packets:\n%s", sum.Frames, stdout.String())
			}
		})
	}
}

type observerFunc func(o *pipeline.Outcome)

func (f observerFunc) Observe(o *pipeline.Outcome) { f(o) }

// readFrames is the data of every frame of a capture.
func readFrames(t *testing.T, path string) [][]byte {
	t.Helper()
	var out [][]byte
	for _, f := range packettest.ReadCapture(t, path) {
		out = append(out, f.Data)
	}
	return out
}

func sortFrames(fs [][]byte) {
	sort.Slice(fs, func(i, j int) bool { return bytes.Compare(fs[i], fs[j]) < 0 })
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// scrapeWhenDone scrapes /metrics until the workers have counted frames
// packets, and returns that scrape; false when they never did.
func scrapeWhenDone(addr string, frames uint64) (string, bool) {
	deadline := time.Now().Add(30 * time.Second)
	var body string
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
			if sumMetric(body, "statewall_packets_total") >= frames {
				return body, true
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return body, false
}

func sumMetric(body, name string) uint64 {
	var total uint64
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, name+"{") {
			var v float64
			fmt.Sscanf(l[strings.LastIndexByte(l, ' ')+1:], "%g", &v)
			total += uint64(v)
		}
	}
	return total
}

// grepAll keeps the lines that start with prefix and contain part.
func grepAll(body, prefix, part string) string {
	var out []string
	for _, l := range strings.Split(grep(body, prefix), "\n") {
		if strings.Contains(l, part) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func grep(body, prefix string) string {
	var out []string
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
