// Package lab_test runs the namespace lab end to end: real clients and
// servers (ping, curl, lftp, vsftpd, an HTTP server) in network
// namespaces, joined only through statewalld on DPDK net_af_packet
// devices, with the seed ruleset of deploy/examples/lab.toml. It needs
// root and DPDK; it skips without them, and fails instead under CI=true.
package lab_test

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	client   = "sw-client"
	firewall = "sw-fw"
	server4  = "198.19.0.2"
	server6  = "fd00:0:0:2::2"
)

func need(t *testing.T) {
	t.Helper()
	why := ""
	switch {
	case os.Geteuid() != 0:
		why = "needs root (namespaces, veth)"
	case exec.Command("pkg-config", "--exists", "libdpdk").Run() != nil:
		why = "libdpdk not installed"
	}
	if why == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("lab test: %s (CI=true)", why)
	}
	t.Skipf("lab test: %s", why)
}

func run(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}

func inNS(t *testing.T, ns string, args ...string) (string, error) {
	t.Helper()
	return run(t, "ip", append([]string{"netns", "exec", ns}, args...)...)
}

func sha(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// metrics scrapes the daemon's endpoint inside the firewall namespace and
// returns each sample's value by its full name with labels.
func metrics(t *testing.T) map[string]float64 {
	t.Helper()
	out, err := inNS(t, firewall, "curl", "-s", "--max-time", "3", "http://127.0.0.1:9469/metrics")
	if err != nil {
		t.Fatalf("scraping metrics: %v\n%s", err, out)
	}
	m := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		l := sc.Text()
		if l == "" || l[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		v, err := strconv.ParseFloat(l[i+1:], 64)
		if err == nil {
			m[l[:i]] = v
		}
	}
	return m
}

// TestLab brings the lab up with statewalld between client and server and
// checks what an operator would: allowed traffic works (ICMP, HTTP over
// IPv4 and IPv6, FTP in all four modes with multi-megabyte files intact),
// blocked traffic fails, an FTP bounce gets no expectation, and the
// counters say so.
func TestLab(t *testing.T) {
	need(t)
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	bin := filepath.Join(state, "statewalld")
	if out, err := run(t, "bash", filepath.Join(root, "deploy", "build-statewalld.sh"), bin); err != nil {
		t.Fatalf("building statewalld: %v\n%s", err, out)
	}
	lab := filepath.Join(root, "deploy", "lab", "lab.sh")
	env := append(os.Environ(), "STATEWALLD="+bin, "LAB_STATE="+filepath.Join(state, "lab"))
	down := func() {
		cmd := exec.Command("bash", lab, "down")
		cmd.Env = env
		_ = cmd.Run()
	}
	down() // a lab left over by an interrupted run
	up := exec.Command("bash", lab, "up")
	up.Env = env
	if out, err := up.CombinedOutput(); err != nil {
		t.Fatalf("lab up: %v\n%s", err, out)
	}
	t.Cleanup(down)
	labState := filepath.Join(state, "lab")
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(labState, "statewalld.log"))
			t.Logf("statewalld log:\n%s", b)
		}
	})

	// A multi-megabyte file for the FTP transfers.
	big := filepath.Join(labState, "ftp", "pub", "8M.bin")
	if out, err := run(t, "bash", "-c", "head -c 8388608 /dev/urandom > "+big+" && chmod 644 "+big); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	want := sha(t, big)

	ok := func(name string, args ...string) {
		t.Helper()
		if out, err := inNS(t, client, args...); err != nil {
			t.Errorf("%s: %v\n%s", name, err, out)
		}
	}
	ok("ping IPv4", "ping", "-c", "3", "-i", "0.2", "-W", "2", server4)
	ok("ping IPv6", "ping", "-6", "-c", "3", "-i", "0.2", "-W", "2", server6)
	ok("http IPv4", "curl", "-sSf", "--max-time", "5", "-o", "/dev/null", "http://"+server4+"/")
	ok("http IPv6", "curl", "-sSf", "--max-time", "10", "-o", "/dev/null", "http://["+server6+"]/1M.bin")
	if out, err := inNS(t, client, "curl", "-sSf", "--max-time", "3", "-o", "/dev/null", "http://"+server4+":8081/"); err == nil {
		t.Errorf("a connection to a port no rule allows succeeded:\n%s", out)
	}

	before := metrics(t)
	for _, mode := range []struct {
		name string
		args []string
	}{
		{"curl EPSV", []string{"curl", "-sSf", "--max-time", "30"}},
		{"curl PASV", []string{"curl", "-sSf", "--max-time", "30", "--disable-epsv"}},
		{"curl EPRT", []string{"curl", "-sSf", "--max-time", "30", "-P", "-"}},
		{"curl PORT", []string{"curl", "-sSf", "--max-time", "30", "-P", "-", "--disable-eprt"}},
		{"lftp passive", nil},
		{"lftp active", nil},
	} {
		dst := filepath.Join(state, strings.ReplaceAll(mode.name, " ", "-")+".bin")
		var out string
		var err error
		switch {
		case mode.args != nil:
			out, err = inNS(t, client, append(mode.args, "-o", dst, "ftp://"+server4+"/pub/8M.bin")...)
		default:
			passive := "on"
			if strings.HasSuffix(mode.name, "active") {
				passive = "off"
			}
			out, err = inNS(t, client, "lftp", "-c", fmt.Sprintf("set net:timeout 10; set net:max-retries 1; set ftp:passive-mode %s; open ftp://%s; get pub/8M.bin -o %s", passive, server4, dst))
		}
		if err != nil {
			t.Errorf("ftp %s: %v\n%s", mode.name, err, out)
			continue
		}
		if got := sha(t, dst); got != want {
			t.Errorf("ftp %s: downloaded file differs (sha256 %s, want %s)", mode.name, got, want)
		}
	}
	after := metrics(t)
	related := `statewall_ct_state_packets_total{state="RELATED",worker="0"}`
	if d := after[related] - before[related]; d < 6 {
		t.Errorf("%v RELATED packets during six FTP transfers, want at least one per data connection", d)
	}
	if d := after["statewall_expectations_matched_total"] - before["statewall_expectations_matched_total"]; d < 6 {
		t.Errorf("%v expectations matched during six FTP transfers, want 6", d)
	}

	// An FTP bounce: a PORT naming a third address (the server itself)
	// must create no expectation, and is counted.
	bounce := fmt.Sprintf(`import socket, time
s = socket.create_connection(("%s", 21), timeout=5)
f = s.makefile("rb")
def reply():
    line = f.readline()
    while line[3:4] == b"-":
        line = f.readline()
    return line
reply()
for cmd in (b"USER anonymous\r\n", b"PASS x@\r\n", b"PORT 198,19,0,2,0,80\r\n", b"QUIT\r\n"):
    s.sendall(cmd)
    reply()
`, server4)
	created := after["statewall_expectations_created_total"]
	if out, err := inNS(t, client, "python3", "-c", bounce); err != nil {
		t.Errorf("bounce client: %v\n%s", err, out)
	}
	time.Sleep(200 * time.Millisecond)
	final := metrics(t)
	if final["statewall_expectations_created_total"] != created {
		t.Errorf("the bounce PORT created an expectation")
	}
	if final[`statewall_expectations_refused_total{reason="bounce"}`] < 1 {
		t.Errorf("the bounce PORT was not counted as refused")
	}
	if final[`statewall_rule_packets_total{rule="policy"}`] < 1 || final[`statewall_drops_total{reason="rule_drop",worker="0"}`] < 1 {
		t.Errorf("the blocked connection is not counted as dropped by the policy")
	}
	if final[`statewall_rule_packets_total{rule="ftp"}`] < 7 {
		t.Errorf("%v FTP control connections counted, want at least 7", final[`statewall_rule_packets_total{rule="ftp"}`])
	}

	// The control socket lists what the firewall tracks.
	cli := filepath.Join(state, "statewall")
	if out, err := run(t, "go", "build", "-o", cli, filepath.Join(root, "cmd", "statewall")); err != nil {
		t.Fatalf("building statewall: %v\n%s", err, out)
	}
	out, err := run(t, cli, "conntrack", "list", "-p", "tcp", "--dport", "21")
	if err != nil || !strings.Contains(out, "dport=21") {
		t.Errorf("statewall conntrack list: %v\n%s", err, out)
	}
}
