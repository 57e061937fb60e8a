package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/statewall/statewall/config"
	"github.com/statewall/statewall/dataplane/engine"
	"github.com/statewall/statewall/dataplane/replay"
)

const replayUsage = `usage: statewall replay [-c config.toml] [--summary] [--in-port NAME] [--no-alg] [--step 2ms] capture

Runs a capture (pcap or pcapng, optionally gzipped; Ethernet, Linux SLL,
raw IP or BSD loopback framing) through the engine with the capture's
timestamps as the clock, and prints one JSON object per frame:
  {"n":1,"ts":"...","dir":"original|reply","state":"NEW|ESTABLISHED|RELATED|INVALID|UNTRACKED|NONE",
   "verdict":"accept|drop|reject","rule":"<rule name or policy>","reason":"<drop or invalid reason>"}
and a summary to stderr. NONE marks a frame that never reached the tracker
(not IP, malformed, or a fragment held for reassembly). Without -c every
packet is tracked with Linux's default conntrack options and accepted.
`

func runReplay(args []string) int {
	return replayMain(args, os.Stdout, os.Stderr)
}

func replayMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, replayUsage); fs.PrintDefaults() }
	cfgPath := fs.String("c", "", "configuration file (default: track everything, accept everything)")
	summaryOnly := fs.Bool("summary", false, "print only the totals")
	inPort := fs.String("in-port", "", "name of the [[port]] the frames arrive on (default: the first)")
	noALG := fs.Bool("no-alg", false, "disable the FTP helper")
	step := fs.Duration("step", 0, "ignore capture timestamps: advance the clock by this much per frame (Linux's recorded answers used 2ms)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	var cfg *config.Config
	if *cfgPath != "" {
		c, err := config.Load(*cfgPath)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		cfg = c
	} else {
		cfg = engine.DefaultConfig()
	}
	if *noALG {
		cfg.FTP.Enabled = false
	}
	opts := replay.Options{Config: cfg, Step: *step}
	if *inPort != "" {
		found := false
		for i, p := range cfg.Ports {
			if p.Name == *inPort {
				opts.InPort, found = uint16(i), true
			}
		}
		if !found {
			fmt.Fprintf(stderr, "statewall replay: no [[port]] named %q in %s\n", *inPort, cfg.File)
			return 2
		}
	}
	if !*summaryOnly {
		opts.Out = stdout
	}
	sum, err := replay.File(fs.Arg(0), opts)
	if sum != nil {
		w := stderr
		if *summaryOnly {
			w = stdout
		}
		sum.Write(w)
	}
	var rerr *replay.ReadError
	if errors.As(err, &rerr) && rerr.Frames > 0 {
		// A damaged tail or an unreadable later section: what came
		// before it was replayed, as tshark would read it.
		fmt.Fprintf(stderr, "statewall replay: warning: %v\n", err)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "statewall replay: %v\n", err)
		return 1
	}
	return 0
}
