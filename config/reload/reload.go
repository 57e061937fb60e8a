// Package reload owns the running ruleset: a Controller loads, validates
// and compiles the configuration file off the data path, then publishes
// the new Ruleset with one atomic pointer store. Workers Load the pointer
// once per burst. Triggers: SIGHUP (forwarded by the daemon on a channel),
// a change of the file (polled), and an explicit Reload call (the control
// API). A file that changes a setting only a restart applies
// (config.RestartNeeded) is refused; the live settings a ruleset carries
// (conntrack timeouts and switches, checksum, reject) are taken on by
// each worker with it. A failed reload keeps the running ruleset, logs
// why with file, line and key, and is counted.
package reload

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/statewall/statewall/config"
	"github.com/statewall/statewall/config/rules"
)

// DefaultPoll is how often a watched file is checked for changes.
const DefaultPoll = time.Second

// Trigger says what started a reload.
type Trigger uint8

// Reload triggers.
const (
	TriggerStart  Trigger = iota // the initial load
	TriggerSignal                // SIGHUP
	TriggerFile                  // the file changed
	TriggerAPI                   // an explicit Reload call
)

// String returns the trigger as logs spell it.
func (t Trigger) String() string {
	switch t {
	case TriggerStart:
		return "start"
	case TriggerSignal:
		return "sighup"
	case TriggerFile:
		return "file"
	case TriggerAPI:
		return "api"
	}
	return "unknown"
}

// Options configures a Controller.
type Options struct {
	Path    string           // the configuration file
	Logger  *slog.Logger     // nil discards logs
	Signals <-chan os.Signal // SIGHUPs the daemon forwards; nil for none
	// Poll is the file check interval when [reload] watch is on; 0 means
	// DefaultPoll, negative disables watching.
	Poll time.Duration
	Now  func() time.Time // clock for LastSuccess; nil means time.Now
}

// Controller owns the current ruleset. Reloads are serialized; readers
// never block.
type Controller struct {
	opts Options
	log  *slog.Logger
	cur  atomic.Pointer[rules.Ruleset] // shared: workers Load it once per burst

	mu      sync.Mutex // serializes reloads and guards the fields below
	gen     uint64
	lastSum [sha256.Size]byte // content of the last attempted load
	lastMod time.Time         // file mtime and size at the last check
	lastLen int64

	successes   atomic.Uint64
	failures    atomic.Uint64
	lastSuccess atomic.Int64 // unix nanoseconds
	lastErr     atomic.Pointer[errorBox]
}

type errorBox struct{ err error }

// New loads the file once (generation 1) and returns a controller serving
// it, or the load error: a daemon cannot start without a valid ruleset.
func New(opts Options) (*Controller, error) {
	if opts.Poll == 0 {
		opts.Poll = DefaultPoll
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	c := &Controller{opts: opts, log: opts.Logger}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if err := c.reload(TriggerStart, false); err != nil {
		return nil, err
	}
	return c, nil
}

// Pointer is the shared ruleset pointer workers Load once per burst.
func (c *Controller) Pointer() *atomic.Pointer[rules.Ruleset] { return &c.cur }

// Ruleset returns the current ruleset.
func (c *Controller) Ruleset() *rules.Ruleset { return c.cur.Load() }

// Reload reloads the file now (the control API's `statewall reload`). It
// returns the load error, whose text names file, line and key; on error
// the running ruleset stays.
func (c *Controller) Reload() error { return c.reload(TriggerAPI, false) }

// Run serves SIGHUPs and file changes until ctx ends.
func (c *Controller) Run(ctx context.Context) {
	var tick <-chan time.Time
	if c.opts.Poll > 0 {
		t := time.NewTicker(c.opts.Poll)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-c.opts.Signals:
			if !ok {
				c.opts.Signals = nil
				continue
			}
			c.reload(TriggerSignal, false)
		case <-tick:
			if c.Ruleset().Config().Reload.Watch {
				c.reload(TriggerFile, true)
			}
		}
	}
}

// reload loads, validates and compiles the file and publishes the result.
// With onlyChanged it does nothing unless the file's content differs from
// the last attempt (a stat change alone does not reload).
func (c *Controller) reload(trig Trigger, onlyChanged bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if onlyChanged {
		st, err := os.Stat(c.opts.Path)
		if err != nil || st.ModTime().Equal(c.lastMod) && st.Size() == c.lastLen {
			return nil // a missing file mid-rename is retried next tick
		}
		c.lastMod, c.lastLen = st.ModTime(), st.Size()
	}
	data, err := os.ReadFile(c.opts.Path)
	if err != nil {
		return c.fail(trig, fmt.Errorf("reload: %w", err))
	}
	sum := sha256.Sum256(data)
	if onlyChanged && bytes.Equal(sum[:], c.lastSum[:]) {
		return nil
	}
	c.lastSum = sum
	if !onlyChanged {
		if st, err := os.Stat(c.opts.Path); err == nil {
			c.lastMod, c.lastLen = st.ModTime(), st.Size()
		}
	}
	cfg, err := config.Parse(c.opts.Path, data)
	if err != nil {
		return c.fail(trig, err)
	}
	if prev := c.cur.Load(); prev != nil {
		if errs := config.RestartNeeded(prev.Config(), cfg); len(errs) > 0 {
			return c.fail(trig, errs)
		}
	}
	rs, err := rules.Compile(cfg, c.gen+1)
	if err != nil {
		return c.fail(trig, fmt.Errorf("%s: %w", c.opts.Path, err))
	}
	c.gen++
	c.cur.Store(rs)
	c.successes.Add(1)
	c.lastSuccess.Store(c.opts.Now().UnixNano())
	c.lastErr.Store(nil)
	c.log.Info("ruleset loaded", "trigger", trig.String(), "file", c.opts.Path, "generation", rs.Generation,
		"rules", len(cfg.Rules), "notrack", len(cfg.NoTrack), "existing", cfg.Reload.Existing.String())
	return nil
}

func (c *Controller) fail(trig Trigger, err error) error {
	c.failures.Add(1)
	c.lastErr.Store(&errorBox{err})
	var es config.Errors
	if errors.As(err, &es) {
		for _, e := range es {
			c.log.Error("reload failed; keeping the running ruleset", "trigger", trig.String(), "error", e.Error(),
				"file", e.File, "line", e.Line, "key", e.Key)
		}
	} else {
		c.log.Error("reload failed; keeping the running ruleset", "trigger", trig.String(), "error", err.Error())
	}
	return err
}

// Generation is the current ruleset's generation.
func (c *Controller) Generation() uint64 { return c.Ruleset().Generation }

// Successes counts successful loads, the initial one included.
func (c *Controller) Successes() uint64 { return c.successes.Load() }

// Failures counts failed reloads (reload_failures_total).
func (c *Controller) Failures() uint64 { return c.failures.Load() }

// LastSuccess is when the running ruleset was loaded.
func (c *Controller) LastSuccess() time.Time { return time.Unix(0, c.lastSuccess.Load()) }

// LastError is the error of the last reload if it failed, else nil.
func (c *Controller) LastError() error {
	if b := c.lastErr.Load(); b != nil {
		return b.err
	}
	return nil
}
