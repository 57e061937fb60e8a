// Command statewalld is the statewall appliance daemon: it starts DPDK,
// opens the configured ports in bump-in-the-wire pairs, runs one pipeline
// worker per configured core (each locked to its OS thread and pinned),
// and serves the reload controller, the Prometheus endpoint and the
// control socket until SIGINT or SIGTERM.
//
//	statewalld run -c /etc/statewall/statewall.toml
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/statewall/statewall/config"
)

const usage = `usage: statewalld run -c config.toml [--stats-interval 0] [--duration 0]

Runs the firewall on the ports the configuration names (DPDK devargs or
PCI addresses). Reloads the ruleset on SIGHUP, on a change of the file
(with [reload] watch) and on "statewall reload"; stops on SIGINT/SIGTERM.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// newLogger builds the daemon's logger from the configuration's [log]
// section (level, text or JSON); a file that does not load gets the
// defaults here, and its errors are reported by the first load.
func newLogger(path string, w io.Writer) *slog.Logger {
	level, format := slog.LevelInfo, "text"
	if cfg, err := config.Load(path); err == nil {
		_ = level.UnmarshalText([]byte(cfg.Log.Level))
		format = cfg.Log.Format
	}
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "run" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprint(stdout, usage)
			return 0
		}
		fmt.Fprint(stderr, usage)
		return 2
	}
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	opts := daemonOptions{}
	fs.StringVar(&opts.configPath, "c", "/etc/statewall/statewall.toml", "configuration file")
	fs.DurationVar(&opts.statsInterval, "stats-interval", 0, "log a traffic summary this often (0: never)")
	fs.DurationVar(&opts.duration, "duration", 0, "stop after this long (benchmarks; 0: run until signalled)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	logger := newLogger(opts.configPath, stderr)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	opts.hup = hup
	if err := runDaemon(ctx, opts, logger, stdout); err != nil {
		logger.Error("statewalld stopped", "err", err)
		return 1
	}
	return 0
}
