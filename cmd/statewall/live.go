package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/statewall/statewall/dataplane/control"
)

// liveCmd runs the commands that talk to statewalld.
type liveCmd struct {
	socket         string
	stdout, stderr io.Writer
}

// errUsage marks a command-line error (exit status 2), already reported.
var errUsage = errors.New("usage")

// flags returns a flag set for a live command, with -S/--socket.
func (l *liveCmd) flags(name, args string) *flag.FlagSet {
	fs := flag.NewFlagSet("statewall "+name, flag.ContinueOnError)
	fs.SetOutput(l.stderr)
	fs.StringVar(&l.socket, "S", l.socket, "control socket `path` (default "+control.DefaultSocket+")")
	fs.StringVar(&l.socket, "socket", l.socket, "control socket `path`")
	fs.Usage = func() {
		fmt.Fprintf(l.stderr, "usage: statewall %s %s\n", name, args)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args and refuses leftover arguments.
func (l *liveCmd) parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(l.stderr, "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		fs.Usage()
		return errUsage
	}
	return nil
}

// outputFlag adds -o text|json.
func outputFlag(fs *flag.FlagSet) *string {
	o := new(string)
	fs.StringVar(o, "o", "text", "output `format`: text or json")
	fs.StringVar(o, "output", "text", "output `format`: text or json")
	return o
}

func (l *liveCmd) checkOutput(fs *flag.FlagSet, o string) error {
	if o != "text" && o != "json" {
		fmt.Fprintf(l.stderr, "%s: -o %q: want text or json\n", fs.Name(), o)
		return errUsage
	}
	return nil
}

// exit reports err and returns the exit status.
func (l *liveCmd) exit(cmd string, err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage):
		return 2
	case errors.Is(err, context.Canceled):
		fmt.Fprintf(l.stderr, "statewall %s: interrupted\n", cmd)
		return 130
	}
	fmt.Fprintf(l.stderr, "statewall %s: %v\n", cmd, err)
	return 1
}

func (l *liveCmd) dial() (*control.Client, error) { return control.Dial(l.socket) }

// interruptible returns a context that ends on SIGINT or SIGTERM.
func interruptible() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func (l *liveCmd) status(args []string) int {
	fs := l.flags("status", "[-i interval] [-o json]")
	interval := fs.Duration("i", time.Second, "sampling `interval` for rates")
	out := outputFlag(fs)
	err := l.parse(fs, args)
	if err == nil {
		err = l.checkOutput(fs, *out)
	}
	if err == nil {
		err = l.doStatus(*interval, *out)
	}
	return l.exit("status", err)
}

func (l *liveCmd) doStatus(interval time.Duration, out string) error {
	c, err := l.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := interruptible()
	defer cancel()
	st, err := c.Status(ctx, interval)
	if err != nil {
		return err
	}
	if out == "json" {
		return writeJSONLine(l.stdout, st)
	}
	w := tabwriter.NewWriter(l.stdout, 0, 4, 2, ' ', 0)
	last := "never"
	if !st.Reload.LastSuccess.IsZero() {
		last = st.Reload.LastSuccess.Local().Format(time.RFC3339)
	}
	fmt.Fprintf(w, "ruleset generation %d; reloads: %d ok, %d failed; last success %s\n",
		st.Generation, st.Reload.Successes, st.Reload.Failures, last)
	if st.Reload.LastError != "" {
		fmt.Fprintf(w, "last reload error: %s\n", st.Reload.LastError)
	}
	fmt.Fprintf(w, "rates over %v\n\n", st.Interval.Round(time.Millisecond))
	fmt.Fprintln(w, "PORT\tUP\tRX PKT/S\tRX MBIT/S\tTX PKT/S\tTX MBIT/S\tRX MISSED\tRX ERRORS\tTX ERRORS\tTX DROPPED\tNIC CHECKSUMS\t")
	for _, p := range st.Ports {
		nic := strings.Join(p.ChecksumOffload, ",")
		if nic == "" {
			nic = "-"
		}
		fmt.Fprintf(w, "%s\t%s\t%.0f\t%.1f\t%.0f\t%.1f\t%d\t%d\t%d\t%d\t%s\t\n", p.Name, yesNo(p.Up),
			p.RxPacketsRate, p.RxBitsRate/1e6, p.TxPacketsRate, p.TxBitsRate/1e6, p.RxMissed, p.RxErrors, p.TxErrors, p.TxDropped, nic)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "WORKER\tCPU\tPKT/S\tMBIT/S\tDROPS/S\tPACKETS\tDROPPED\tENTRIES\tCAPACITY\tFILL\t")
	var tot control.WorkerStatus
	for _, ws := range st.Workers {
		cpu := "-" // not pinned
		if ws.CPU >= 0 {
			cpu = strconv.Itoa(ws.CPU)
		}
		fmt.Fprintf(w, "%d\t%s\t%.0f\t%.1f\t%.0f\t%d\t%d\t%d\t%d\t%.1f%%\t\n", ws.ID, cpu, ws.PacketsPerSec, ws.BitsPerSec/1e6,
			ws.DropsPerSec, ws.Packets, ws.Dropped, ws.Entries, ws.Capacity, 100*ws.Fill)
		tot.PacketsPerSec += ws.PacketsPerSec
		tot.BitsPerSec += ws.BitsPerSec
		tot.DropsPerSec += ws.DropsPerSec
		tot.Packets += ws.Packets
		tot.Dropped += ws.Dropped
		tot.Entries += ws.Entries
		tot.Capacity += ws.Capacity
	}
	if tot.Capacity > 0 {
		tot.Fill = float64(tot.Entries) / float64(tot.Capacity)
	}
	fmt.Fprintf(w, "all\t\t%.0f\t%.1f\t%.0f\t%d\t%d\t%d\t%d\t%.1f%%\t\n", tot.PacketsPerSec, tot.BitsPerSec/1e6,
		tot.DropsPerSec, tot.Packets, tot.Dropped, tot.Entries, tot.Capacity, 100*tot.Fill)
	e := st.Expectations
	fmt.Fprintf(w, "\nexpectations: %d pending (capacity %d), %d created, %d matched, %d expired\n",
		e.Current, e.Capacity, e.Created, e.Matched, e.Expired)
	return w.Flush()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func writeJSONLine(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// filterFlags are the conntrack filter flags.
type filterFlags struct {
	proto, state, src, dst, sport, dport string
}

func (f *filterFlags) add(fs *flag.FlagSet) {
	fs.StringVar(&f.proto, "p", "", "`protocol`: tcp, udp, icmp, icmpv6 or a number")
	fs.StringVar(&f.proto, "proto", "", "`protocol`")
	fs.StringVar(&f.state, "s", "", "TCP `state` (ESTABLISHED, SYN_SENT, TIME_WAIT, ...)")
	fs.StringVar(&f.state, "state", "", "TCP `state`")
	fs.StringVar(&f.src, "src", "", "original source `address` or prefix")
	fs.StringVar(&f.dst, "dst", "", "original destination `address` or prefix")
	fs.StringVar(&f.sport, "sport", "", "original source `port`")
	fs.StringVar(&f.dport, "dport", "", "original destination `port`")
}

func (f *filterFlags) filter() (control.Filter, error) {
	var out control.Filter
	var err error
	if f.proto != "" {
		if out.Proto, err = control.ParseProto(f.proto); err != nil {
			return out, err
		}
	}
	if f.state != "" {
		if _, aerr := netip.ParsePrefix(f.state); aerr == nil || isAddr(f.state) {
			return out, fmt.Errorf("-s is the TCP state; use --src %s for an address", f.state)
		}
		if out.State, err = control.ParseState(f.state); err != nil {
			return out, err
		}
	}
	if f.src != "" {
		if out.Src, err = control.ParsePrefix(f.src); err != nil {
			return out, fmt.Errorf("--src: %w", err)
		}
	}
	if f.dst != "" {
		if out.Dst, err = control.ParsePrefix(f.dst); err != nil {
			return out, fmt.Errorf("--dst: %w", err)
		}
	}
	if f.sport != "" {
		if out.SrcPort, err = control.ParsePort(f.sport); err != nil {
			return out, fmt.Errorf("--sport: %w", err)
		}
	}
	if f.dport != "" {
		if out.DstPort, err = control.ParsePort(f.dport); err != nil {
			return out, fmt.Errorf("--dport: %w", err)
		}
	}
	return out, nil
}

func isAddr(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

func (l *liveCmd) conntrack(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(l.stderr, "usage: statewall conntrack list|flush|count [flags]\n")
		return 2
	}
	sub, rest := args[0], args[1:]
	var err error
	switch sub {
	case "list", "-L":
		err = l.conntrackList(rest)
	case "flush", "-F":
		err = l.conntrackFlush(rest)
	case "count", "-C":
		err = l.conntrackCount(rest)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(l.stdout, "usage: statewall conntrack list|flush|count [flags]\n")
		return 0
	default:
		fmt.Fprintf(l.stderr, "statewall conntrack: unknown subcommand %q (list, flush or count)\n", sub)
		return 2
	}
	return l.exit("conntrack "+sub, err)
}

func (l *liveCmd) usageErr(fs *flag.FlagSet, err error) error {
	fmt.Fprintf(l.stderr, "%s: %v\n", fs.Name(), err)
	return errUsage
}

func (l *liveCmd) conntrackList(args []string) error {
	fs := l.flags("conntrack list", "[-p proto] [-s state] [--src addr] [--dst addr] [--sport n] [--dport n] [-o json]")
	var ff filterFlags
	ff.add(fs)
	out := outputFlag(fs)
	if err := l.parse(fs, args); err != nil {
		return err
	}
	if err := l.checkOutput(fs, *out); err != nil {
		return err
	}
	f, err := ff.filter()
	if err != nil {
		return l.usageErr(fs, err)
	}
	c, err := l.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := interruptible()
	defer cancel()
	w := bufio.NewWriterSize(l.stdout, 64<<10)
	var line []byte
	enc := json.NewEncoder(w)
	n, err := c.List(ctx, f, func(e *control.Entry) error {
		if *out == "json" {
			return enc.Encode(e)
		}
		line = append(e.AppendText(line[:0]), '\n')
		_, werr := w.Write(line)
		return werr
	})
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(l.stderr, "statewall: %d flow entries have been shown.\n", n)
	return nil
}

func (l *liveCmd) conntrackFlush(args []string) error {
	fs := l.flags("conntrack flush", "[-p proto] [-s state] [--src addr] [--dst addr] [--sport n] [--dport n]")
	var ff filterFlags
	ff.add(fs)
	if err := l.parse(fs, args); err != nil {
		return err
	}
	f, err := ff.filter()
	if err != nil {
		return l.usageErr(fs, err)
	}
	c, err := l.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	n, err := c.Flush(context.Background(), f)
	if err != nil {
		return err
	}
	if f.IsZero() {
		fmt.Fprintf(l.stdout, "connection tracking table has been emptied (%d flow entries deleted).\n", n)
	} else {
		fmt.Fprintf(l.stdout, "%d flow entries have been deleted.\n", n)
	}
	return nil
}

func (l *liveCmd) conntrackCount(args []string) error {
	fs := l.flags("conntrack count", "")
	if err := l.parse(fs, args); err != nil {
		return err
	}
	c, err := l.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	n, err := c.Count(context.Background())
	if err != nil {
		return err
	}
	fmt.Fprintln(l.stdout, n)
	return nil
}

func (l *liveCmd) rules(args []string) int {
	fs := l.flags("rules", "[-o json]")
	out := outputFlag(fs)
	err := l.parse(fs, args)
	if err == nil {
		err = l.checkOutput(fs, *out)
	}
	if err == nil {
		err = l.doRules(*out)
	}
	return l.exit("rules", err)
}

func (l *liveCmd) doRules(out string) error {
	c, err := l.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	r, err := c.Rules(context.Background())
	if err != nil {
		return err
	}
	if out == "json" {
		return writeJSONLine(l.stdout, r)
	}
	w := tabwriter.NewWriter(l.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "ruleset generation %d\n\n", r.Generation)
	fmt.Fprintln(w, "#\tNAME\tVERDICT\tPACKETS\tBYTES\tMATCH")
	for _, ru := range r.Rules {
		match := ru.Match
		if match == "" {
			match = "-"
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%d\t%s\t%s\n", ru.Index, ru.Name, ru.Verdict, ru.Packets, humanBytes(ru.Bytes), match)
	}
	return w.Flush()
}

// humanBytes prints a byte count with a binary unit, exact below 1 KiB.
func humanBytes(n uint64) string {
	const units = "KMGTPE"
	if n < 1024 {
		return strconv.FormatUint(n, 10)
	}
	v, i := float64(n)/1024, 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + string(units[i]) + "i"
}

func (l *liveCmd) reload(args []string) int {
	fs := l.flags("reload", "")
	err := l.parse(fs, args)
	if err == nil {
		err = l.doReload()
	}
	return l.exit("reload", err)
}

func (l *liveCmd) doReload() error {
	c, err := l.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	gen, err := c.Reload(context.Background())
	if err != nil {
		return err
	}
	fmt.Fprintf(l.stdout, "reloaded: ruleset generation %d in force\n", gen)
	return nil
}
