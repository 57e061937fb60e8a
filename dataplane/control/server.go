package control

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/statewall/statewall/dataplane/metrics"
)

// DefaultSocket is where the daemon listens and the CLI connects.
const DefaultSocket = "/run/statewall/control.sock"

// DefaultMode is the socket's permission bits: owner only.
const DefaultMode fs.FileMode = 0o600

// Conntrack is the engine's connection tables, as the control API uses
// them. Implementations walk each worker's table in bounded steps on the
// worker's own goroutine (pipeline.Worker.Do, at most about 1024 entries
// per step) so that no worker stops forwarding for more than a burst.
type Conntrack interface {
	// List calls chunk with successive groups of entries that pass the
	// filter, until every table has been walked or chunk returns an error,
	// which List returns. chunk must be called outside any worker's Do
	// (the caller may be a slow client), with a slice that is only valid
	// during the call. The listing is not a snapshot: entries created or
	// removed while it runs may or may not appear.
	List(filter Filter, chunk func([]Entry) error) error
	// Flush removes the entries that pass the filter (all of them for a
	// zero filter) and returns how many it removed.
	Flush(filter Filter) (int, error)
	// Count returns the number of entries in all tables.
	Count() int
}

// Reloader reloads the configuration: read, validate, compile and swap
// the ruleset whole, or keep the old one and return why.
type Reloader interface {
	Reload() error
}

// Config are a control server's settings and the engine it serves.
type Config struct {
	// Path of the unix socket; DefaultSocket when empty. Its directory is
	// created (0755) when missing; a stale socket is removed, a live one
	// (another daemon answering) is an error.
	Path string
	// Mode of the socket; DefaultMode when zero.
	Mode fs.FileMode
	// AllowUIDs are peer uids accepted besides the socket's owner.
	AllowUIDs []uint32

	Source    metrics.Source // status and rules; nil: those endpoints answer 503
	Conntrack Conntrack      // nil: the conntrack endpoints answer 503
	Reloader  Reloader       // nil: reload answers 503

	// Now reads the clock (time.Now when nil); status rates divide by
	// the time between its two snapshots.
	Now func() time.Time
	// MaxInterval bounds the status sampling interval a client may ask
	// for (10 s when zero).
	MaxInterval time.Duration
}

// Server serves the control API on a unix socket.
type Server struct {
	cfg   Config
	ln    *net.UnixListener
	owner uint32
	info  os.FileInfo // the socket file, to remove only our own on Close
	http  *http.Server

	closeOnce sync.Once
	closeErr  error
}

// Listen creates the socket with its permissions set before any peer can
// reach it (it is bound in a private directory, chmod-ed, then renamed
// into place) and returns a server ready to Serve.
func Listen(cfg Config) (*Server, error) {
	if cfg.Path == "" {
		cfg.Path = DefaultSocket
	}
	if cfg.Mode == 0 {
		cfg.Mode = DefaultMode
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxInterval <= 0 {
		cfg.MaxInterval = 10 * time.Second
	}
	dir := filepath.Dir(cfg.Path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("control socket directory: %w", err)
	}
	if err := removeStale(cfg.Path); err != nil {
		return nil, err
	}
	tmpDir, err := os.MkdirTemp(dir, ".sw")
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	defer os.RemoveAll(tmpDir)
	tmp := filepath.Join(tmpDir, "s")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	ln.SetUnlinkOnClose(false)
	fail := func(err error) (*Server, error) {
		ln.Close()
		return nil, fmt.Errorf("control socket %s: %w", cfg.Path, err)
	}
	if err := os.Chmod(tmp, cfg.Mode); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, cfg.Path); err != nil {
		return fail(err)
	}
	fi, err := os.Lstat(cfg.Path)
	if err != nil {
		return fail(err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fail(errors.New("no owner in file info"))
	}
	s := &Server{cfg: cfg, ln: ln, owner: st.Uid, info: fi}
	s.http = &http.Server{
		Handler:           s.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       time.Minute,
		ConnContext:       connContext,
	}
	return s, nil
}

// removeStale removes a socket left by a daemon that is gone. It refuses
// to remove anything but a socket, and a socket someone still answers on.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("control socket %s: exists and is not a socket", path)
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("control socket %s: another server is listening on it", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("control socket: removing stale %s: %w", path, err)
	}
	return nil
}

// Path returns the socket's path.
func (s *Server) Path() string { return s.cfg.Path }

// Owner returns the uid that owns the socket (the process's effective uid).
func (s *Server) Owner() uint32 { return s.owner }

// Serve answers requests until Close; it returns nil after Close.
func (s *Server) Serve() error {
	err := s.http.Serve(s.ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Close stops the server, ends open connections (streams in progress see
// a write error and stop walking the tables) and removes the socket if it
// is still ours.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.closeErr = s.http.Close()
		if fi, err := os.Lstat(s.cfg.Path); err == nil && os.SameFile(fi, s.info) {
			if err := os.Remove(s.cfg.Path); err != nil && s.closeErr == nil {
				s.closeErr = err
			}
		}
	})
	return s.closeErr
}

// Shutdown stops accepting, waits for requests in progress until ctx ends,
// then closes.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.http.Shutdown(ctx)
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	return err
}

type peerKey struct{}

// peer is what the kernel says about the process at the other end.
type peer struct {
	uid, pid int64
	err      error
}

func connContext(ctx context.Context, c net.Conn) context.Context {
	p := peer{uid: -1, pid: -1}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		p.err = errors.New("not a unix connection")
	} else {
		p.uid, p.pid, p.err = peerCred(uc)
	}
	return context.WithValue(ctx, peerKey{}, p)
}

// allowed reports whether a peer uid may use the API.
func (s *Server) allowed(uid int64) bool {
	if uid < 0 {
		return false
	}
	if uint32(uid) == s.owner {
		return true
	}
	for _, u := range s.cfg.AllowUIDs {
		if uint32(uid) == u {
			return true
		}
	}
	return false
}

// guard refuses peers whose uid is neither the owner's nor allowed.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := r.Context().Value(peerKey{}).(peer)
		if p.err != nil {
			writeError(w, http.StatusForbidden, fmt.Errorf("permission denied: peer credentials: %v", p.err))
			return
		}
		if !s.allowed(p.uid) {
			writeError(w, http.StatusForbidden, fmt.Errorf("permission denied: uid %d may not use the control socket (owner uid %d)", p.uid, s.owner))
			return
		}
		next.ServeHTTP(w, r)
	})
}
