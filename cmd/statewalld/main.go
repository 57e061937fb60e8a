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
	"runtime/pprof"
	"syscall"

	"github.com/statewall/statewall/config"
)

const usage = `usage: statewalld run -c config.toml [--stats-interval 0] [--duration 0] [--cpuprofile FILE]

Runs the firewall on the ports the configuration names (DPDK devargs or
PCI addresses). Reloads the ruleset on SIGHUP, on a change of the file
(with [reload] watch) and on "statewall reload"; stops on SIGINT/SIGTERM.
--cpuprofile writes a CPU profile of the whole run (for go tool pprof, or
as cmd/statewalld/default.pgo: a profile of the daemon on its own traffic).
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
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run to this file")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	logger := newLogger(opts.configPath, stderr)
	if *cpuProfile != "" {
		stopProfile, err := startCPUProfile(*cpuProfile)
		if err != nil {
			logger.Error("statewalld: CPU profile", "err", err)
			return 1
		}
		defer func() {
			if err := stopProfile(); err != nil {
				logger.Error("statewalld: CPU profile", "err", err)
				return
			}
			logger.Info("CPU profile written", "file", *cpuProfile)
		}()
	}
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

// startCPUProfile starts profiling the process's CPU time into path and
// returns the function that stops it and closes the file.
func startCPUProfile(path string) (stop func() error, err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() error {
		pprof.StopCPUProfile()
		return f.Close()
	}, nil
}
