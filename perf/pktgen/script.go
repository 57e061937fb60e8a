// Package pktgen reads the Pktgen-DPDK command scripts of the benchmark
// kit (the .pkt files beside this file) and makes, in memory, the frames
// pktgen's range mode sends from each port, so that tests check every
// script against the firewall configuration it is meant for (dut.toml)
// without a tester. It models the subset of pktgen's command language the
// kit's scripts use and rejects anything else, so a script cannot drift
// away from what was checked.
package pktgen

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/statewall/statewall/dataplane/packet"
)

// Field is one field a range varies. With Inc 0 every frame carries
// Start. Otherwise pktgen ignores Start: before building each frame it
// adds Inc to the value the previous frame carried, beginning from the
// port's template (its single-packet defaults), and wraps a sum above Max
// to Min and one below Min to Max (pktgen_range_ctor).
type Field struct {
	Start, Min, Max, Inc uint32
	set                  uint8 // which of start, min, max, inc the script gave
}

const setAll = 0b1111

// Values is how many distinct values the field takes once it has
// wrapped: its period in frames.
func (f Field) Values() int {
	if f.Inc == 0 {
		return 1
	}
	return int((f.Max-f.Min)/f.Inc) + 1
}

// next is the value of the frame after one carrying v.
func (f Field) next(v uint32) uint32 {
	if f.Inc == 0 {
		return f.Start
	}
	v += f.Inc
	switch {
	case v < f.Min:
		return f.Max
	case v > f.Max:
		return f.Min
	}
	return v
}

// check refuses what the model does not follow: a sum that would
// overflow the field (pktgen adds in the field's own width, 16 bits for
// ports, before it compares).
func (f Field) check(width uint) error {
	switch {
	case f.set != setAll:
		return fmt.Errorf("start, min, max and inc must all be given (pktgen's defaults differ by port and version)")
	case f.Min > f.Max || f.Start < f.Min || f.Start > f.Max:
		return fmt.Errorf("start must lie in [min, max]")
	case uint64(f.Max)+uint64(f.Inc) >= 1<<width:
		return fmt.Errorf("max+inc overflows the %d-bit field", width)
	}
	return nil
}

// PortSetup is what a script configures on one tester port.
type PortSetup struct {
	Port  int  // the tester port's number
	Range bool // enable <port> range
	// Pcap is pcap mode (enable <port> pcap): the port replays the
	// capture pktgen was given for it (-s port:file) in a loop.
	Pcap             bool
	Proto            uint8
	Size             Field // frame size with the 4-byte FCS, as pktgen counts it
	SrcIP, DstIP     Field
	SrcPort, DstPort Field
	Rate             float64 // percent of line rate
	protoSet         bool
}

// Period is after how many frames the port's range repeats once every
// field has wrapped: the least common multiple of the fields' periods,
// since every field steps once per frame.
func (p *PortSetup) Period() int {
	n := 1
	for _, f := range []Field{p.SrcIP, p.DstIP, p.SrcPort, p.DstPort} {
		n = lcm(n, f.Values())
	}
	return n
}

func lcm(a, b int) int {
	x, y := a, b
	for y != 0 {
		x, y = y, x%y
	}
	return a / x * b
}

// Start is a `start` command: the port begins sending AfterMillis after
// the script's first start (delay and sleep commands in between).
type Start struct {
	Port        int
	AfterMillis int
}

// Script is a parsed command file.
type Script struct {
	Name   string
	Ports  map[int]*PortSetup
	Starts []Start
}

// Load parses the command file at path.
func Load(path string) (*Script, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Parse(path, f)
}

// Parse reads a command file: one command per line, lines starting with
// '#' and blank lines ignored. Errors name the file and line.
func Parse(name string, r io.Reader) (*Script, error) {
	s := &Script{Name: name, Ports: map[int]*PortSetup{}}
	sc := bufio.NewScanner(r)
	elapsed, started := 0, false
	for line := 1; sc.Scan(); line++ {
		words := strings.Fields(sc.Text())
		if len(words) == 0 || strings.HasPrefix(words[0], "#") {
			continue
		}
		fail := func(format string, args ...any) error {
			return fmt.Errorf("%s:%d: %s: %s", name, line, strings.Join(words, " "), fmt.Sprintf(format, args...))
		}
		switch words[0] {
		case "delay", "sleep":
			if len(words) != 2 {
				return nil, fail("want one duration")
			}
			n, err := strconv.Atoi(words[1])
			if err != nil || n < 0 {
				return nil, fail("not a duration: %q", words[1])
			}
			if words[0] == "sleep" {
				n *= 1000
			}
			if started {
				elapsed += n
			}
			continue
		case "page":
			continue
		}
		if len(words) < 2 {
			return nil, fail("no port list")
		}
		ports, err := s.portList(words[1])
		if err != nil {
			return nil, fail("%v", err)
		}
		args := words[2:]
		for _, p := range ports {
			setup := s.port(p)
			switch words[0] {
			case "set":
				err = setup.set(args)
			case "range":
				err = setup.rangeCmd(args)
			case "enable", "disable":
				// Range and pcap modes exclude each other: enabling one
				// turns the other off, as in pktgen.
				on := words[0] == "enable"
				switch {
				case len(args) == 1 && args[0] == "range":
					setup.Range, setup.Pcap = on, setup.Pcap && !on
				case len(args) == 1 && args[0] == "pcap":
					setup.Pcap, setup.Range = on, setup.Range && !on
				default:
					err = fmt.Errorf("only range and pcap are modelled")
				}
			case "start":
				if len(args) != 0 {
					err = fmt.Errorf("only `start <ports>` is modelled")
				}
				s.Starts = append(s.Starts, Start{Port: p, AfterMillis: elapsed})
				started = true
			case "stop", "clear":
			default:
				err = fmt.Errorf("command not modelled")
			}
			if err != nil {
				return nil, fail("%v", err)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	for p, setup := range s.Ports {
		if err := setup.check(); err != nil {
			return nil, fmt.Errorf("%s: port %d: %w", name, p, err)
		}
	}
	return s, nil
}

// portList reads "0", "0-1", "0,1" or "all" (every port the script has
// named so far, else 0 and 1).
func (s *Script) portList(w string) ([]int, error) {
	if w == "all" {
		if len(s.Ports) == 0 {
			return []int{0, 1}, nil
		}
		var ps []int
		for p := range 8 {
			if s.Ports[p] != nil {
				ps = append(ps, p)
			}
		}
		return ps, nil
	}
	var ps []int
	for _, part := range strings.Split(w, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 || a > 7 {
			return nil, fmt.Errorf("not a port list: %q", w)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a || b > 7 {
				return nil, fmt.Errorf("not a port list: %q", w)
			}
		}
		for p := a; p <= b; p++ {
			ps = append(ps, p)
		}
	}
	return ps, nil
}

func (s *Script) port(p int) *PortSetup {
	if s.Ports[p] == nil {
		s.Ports[p] = &PortSetup{Port: p, Rate: 100}
	}
	return s.Ports[p]
}

// set handles the single-packet settings the scripts give: rate, count,
// burst and size (pacing, not content: pktgen paces range mode by the
// single-packet size, so scripts set it to the range's size) are taken;
// anything that would change the frames outside range mode is refused.
func (p *PortSetup) set(args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("want `set <ports> rate|count|burst|size <value>`")
	}
	switch args[0] {
	case "rate":
		r, err := strconv.ParseFloat(args[1], 64)
		if err != nil || r <= 0 || r > 100 {
			return fmt.Errorf("rate is a percentage of line rate")
		}
		p.Rate = r
	case "count", "burst", "size":
		if _, err := strconv.ParseUint(args[1], 10, 32); err != nil {
			return fmt.Errorf("%s takes a number", args[0])
		}
	default:
		return fmt.Errorf("only rate, count, burst and size are modelled (the frames come from the range)")
	}
	return nil
}

// rangeCmd handles `range <ports> src|dst ip|port start|min|max|inc <v>`,
// `range <ports> size start|min|max|inc <v>` and
// `range <ports> proto tcp|udp`.
func (p *PortSetup) rangeCmd(args []string) error {
	if len(args) == 2 && args[0] == "proto" {
		switch args[1] {
		case "tcp":
			p.Proto = packet.ProtoTCP
		case "udp":
			p.Proto = packet.ProtoUDP
		default:
			return fmt.Errorf("proto is tcp or udp")
		}
		p.protoSet = true
		return nil
	}
	var f *Field
	var which, value string
	switch {
	case len(args) == 3 && args[0] == "size":
		f, which, value = &p.Size, args[1], args[2]
	case len(args) == 4 && (args[0] == "src" || args[0] == "dst") && args[1] == "ip":
		f, which, value = &p.SrcIP, args[2], args[3]
		if args[0] == "dst" {
			f = &p.DstIP
		}
	case len(args) == 4 && (args[0] == "src" || args[0] == "dst") && args[1] == "port":
		f, which, value = &p.SrcPort, args[2], args[3]
		if args[0] == "dst" {
			f = &p.DstPort
		}
	default:
		return fmt.Errorf("only src|dst ip|port, size and proto ranges are modelled")
	}
	var v uint32
	if f == &p.SrcIP || f == &p.DstIP {
		a, err := netip.ParseAddr(value)
		if err != nil || !a.Is4() {
			return fmt.Errorf("not an IPv4 address: %q", value)
		}
		b := a.As4()
		v = uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	} else {
		n, err := strconv.ParseUint(value, 10, 16)
		if err != nil {
			return fmt.Errorf("not a 16-bit number: %q", value)
		}
		v = uint32(n)
	}
	switch which {
	case "start":
		f.Start, f.set = v, f.set|1
	case "min":
		f.Min, f.set = v, f.set|2
	case "max":
		f.Max, f.set = v, f.set|4
	case "inc":
		f.Inc, f.set = v, f.set|8
	default:
		return fmt.Errorf("%q is not start, min, max or inc", which)
	}
	return nil
}

// check insists on a complete range in range mode: pktgen's defaults
// differ between ports and versions, so a script must give every value
// it relies on.
func (p *PortSetup) check() error {
	if p.Pcap {
		return nil
	}
	if !p.Range {
		return fmt.Errorf("neither range nor pcap mode is enabled (`enable <port> range|pcap`): single-packet mode is not modelled")
	}
	if !p.protoSet {
		return fmt.Errorf("no `range <port> proto tcp|udp`")
	}
	for _, f := range []struct {
		name  string
		f     Field
		width uint
	}{{"src ip", p.SrcIP, 32}, {"dst ip", p.DstIP, 32}, {"src port", p.SrcPort, 16}, {"dst port", p.DstPort, 16}, {"size", p.Size, 16}} {
		if err := f.f.check(f.width); err != nil {
			return fmt.Errorf("range %s: %w", f.name, err)
		}
	}
	if p.Size.Min < 64 || p.Size.Max > 1518 {
		return fmt.Errorf("range size: frames are 64 to 1518 bytes with the FCS")
	}
	return nil
}
