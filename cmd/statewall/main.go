// Command statewall is the operator's tool for the statewall firewall:
// live commands talk to a running statewalld over its control socket
// (status, conntrack list/flush/count, rules, reload), offline ones need
// no daemon (check a configuration, replay captures through the engine).
// It builds without cgo and never links the DPDK layer.
package main

import (
	"fmt"
	"io"
	"os"
	"strings"
)

const usage = `usage: statewall [-S socket] <command> [arguments]

Live commands (talk to statewalld over its control socket):
  status [-i interval] [-o json]     ports, workers, rates, table fill, reloads
  conntrack list [filter] [-o json]  list tracked connections (conntrack -L layout)
  conntrack flush [filter]           remove tracked connections (all without a filter)
  conntrack count                    number of tracked connections
  rules [-o json]                    the ruleset in force with packet and byte counters
  reload                             reload the configuration (the old ruleset stays on error)

Offline commands:
  check [arguments]                  check a configuration file
  replay [arguments]                 replay captures through the engine

Conntrack filters (original direction):
  -p, --proto tcp|udp|icmp|icmpv6|N   -s, --state TCP_STATE (ESTABLISHED, TIME_WAIT, ...)
  --src ADDR[/LEN]  --dst ADDR[/LEN]  --sport N  --dport N

Global flags:
  -S, --socket PATH   control socket (default /run/statewall/control.sock)

Run "statewall <command> -h" for a command's flags.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches a command line and returns the exit status: 0 done,
// 1 the command failed, 2 the command line is wrong.
func run(args []string, stdout, stderr io.Writer) int {
	socket, args, err := globalFlags(args)
	if err != nil {
		fmt.Fprintf(stderr, "statewall: %v\n\n%s", err, usage)
		return 2
	}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	live := &liveCmd{socket: socket, stdout: stdout, stderr: stderr}
	switch cmd {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	case "check":
		return runCheck(rest)
	case "replay":
		return runReplay(rest)
	case "status":
		return live.status(rest)
	case "conntrack":
		return live.conntrack(rest)
	case "rules":
		return live.rules(rest)
	case "reload":
		return live.reload(rest)
	}
	fmt.Fprintf(stderr, "statewall: unknown command %q\n\n%s", cmd, usage)
	return 2
}

// globalFlags takes -S/--socket from the front of the command line.
func globalFlags(args []string) (socket string, rest []string, err error) {
	for len(args) > 0 {
		a := args[0]
		switch {
		case a == "-S" || a == "--socket" || a == "-socket":
			if len(args) < 2 {
				return "", nil, fmt.Errorf("%s needs a path", a)
			}
			socket, args = args[1], args[2:]
		case strings.HasPrefix(a, "--socket=") || strings.HasPrefix(a, "-S="):
			socket, args = a[strings.IndexByte(a, '=')+1:], args[1:]
		case a == "--":
			return socket, args[1:], nil
		case strings.HasPrefix(a, "-") && len(a) > 1 && !isHelp(a):
			return "", nil, fmt.Errorf("unknown flag %s", a)
		default:
			return socket, args, nil
		}
	}
	return socket, args, nil
}

func isHelp(a string) bool { return a == "-h" || a == "-help" || a == "--help" }
