package control

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// nobody is the uid and gid the helper client runs as.
const nobody = 65534

// helperEnv names the socket the helper client connects to.
const helperEnv = "STATEWALL_CONTROL_HELPER_SOCKET"

// TestHelperClient is not a test: run by TestSocketRefusesOtherUsers as
// another user, it asks for the entry count and prints what happened.
func TestHelperClient(t *testing.T) {
	path := os.Getenv(helperEnv)
	if path == "" {
		t.Skip("helper process only")
	}
	c, err := Dial(path)
	if err == nil {
		var n int
		n, err = c.Count(context.Background())
		if err == nil {
			fmt.Printf("HELPER OK uid=%d count=%d\n", os.Getuid(), n)
			return
		}
	}
	fmt.Printf("HELPER ERR uid=%d %v\n", os.Getuid(), err)
}

// runAsNobody runs the test binary's helper as uid 65534 against path and
// returns its verdict line.
func runAsNobody(t *testing.T, bin, path string) string {
	t.Helper()
	cmd := exec.Command(bin, "-test.run=^TestHelperClient$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+path)
	cmd.Dir = filepath.Dir(bin)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody, Groups: []uint32{}}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "HELPER ") {
			return line
		}
	}
	t.Fatalf("helper said nothing:\n%s", out)
	return ""
}

// worldDir makes a directory every user may enter.
func worldDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "statewall-control-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestSocketRefusesOtherUsers runs a client as nobody: the default 0600
// socket refuses it at connect, a world-writable socket refuses it by its
// peer credentials, and AllowUIDs lets it in.
func TestSocketRefusesOtherUsers(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("this test switches users and must run as root in CI")
		}
		t.Skip("needs root to run a client as another user")
	}
	// The test binary lives in a directory only root may enter: copy it
	// where nobody can run it.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(worldDir(t), "control.test")
	copyFile(t, self, bin, 0o755)

	ct := &memConntrack{entries: testEntries()}
	dir := worldDir(t)

	s, _ := startServer(t, Config{Path: filepath.Join(dir, "a", "control.sock"), Conntrack: ct})
	os.Chmod(filepath.Dir(s.Path()), 0o755)
	got := runAsNobody(t, bin, s.Path())
	if !strings.Contains(got, "HELPER ERR uid=65534") || !strings.Contains(got, "permission denied") {
		t.Errorf("0600 socket, client nobody: %q, want permission denied", got)
	}

	s, _ = startServer(t, Config{Path: filepath.Join(dir, "b", "control.sock"), Mode: 0o666, Conntrack: ct})
	os.Chmod(filepath.Dir(s.Path()), 0o755)
	got = runAsNobody(t, bin, s.Path())
	if !strings.Contains(got, "HELPER ERR uid=65534 permission denied: uid 65534 may not use the control socket (owner uid 0)") {
		t.Errorf("0666 socket, client nobody: %q, want refused by peer credentials", got)
	}

	s, _ = startServer(t, Config{Path: filepath.Join(dir, "c", "control.sock"), Mode: 0o666, AllowUIDs: []uint32{nobody}, Conntrack: ct})
	os.Chmod(filepath.Dir(s.Path()), 0o755)
	got = runAsNobody(t, bin, s.Path())
	if got != "HELPER OK uid=65534 count=6" {
		t.Errorf("allowed uid: %q, want OK", got)
	}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}
