package config

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// Load reads and validates the configuration file at path. Errors name the
// path as given.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes and validates a configuration held in data; name is the
// file name errors carry. On failure the error is an Errors value listing
// every problem found with its line and key path.
func Parse(name string, data []byte) (*Config, error) {
	d := &decoder{file: name, pos: scanPositions(string(data))}
	var raw rawConfig
	md, err := toml.NewDecoder(strings.NewReader(string(data))).Decode(&raw)
	if err != nil {
		return nil, Errors{d.tomlError(err)}
	}
	undecoded := map[string]bool{}
	for _, k := range md.Undecoded() {
		undecoded[k.String()] = true
	}
	for _, k := range md.Undecoded() {
		if len(k) > 1 && undecoded[k[:len(k)-1].String()] {
			continue // reported with its parent
		}
		path, line := d.pos.find(k.String())
		for p := k; line == 0 && len(p) > 1; {
			// Keys inside inline tables have no line of their own.
			p = p[:len(p)-1]
			var parent string
			parent, line = d.pos.find(p.String())
			path = parent + strings.TrimPrefix(k.String(), p.String())
		}
		d.errs = append(d.errs, &Error{File: name, Line: line, Key: path, Msg: "unknown key"})
	}
	if len(d.errs) > 0 {
		return nil, d.sorted()
	}
	cfg := d.build(&raw)
	if len(d.errs) > 0 {
		return nil, d.sorted()
	}
	cfg.File, cfg.pos = name, d.pos
	return cfg, nil
}

type decoder struct {
	file string
	pos  *positions
	errs Errors
}

func (d *decoder) errf(key string, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Line: d.pos.line(key), Key: key, Msg: fmt.Sprintf(format, args...)})
}

func (d *decoder) sorted() Errors {
	sort.SliceStable(d.errs, func(i, j int) bool { return d.errs[i].Line < d.errs[j].Line })
	return d.errs
}

// friendly rewords the decoder's messages about the schema's structure,
// which name internal Go types.
func friendly(key, msg string) string {
	if strings.Contains(msg, "destination has type slice") {
		return fmt.Sprintf("expected [[%s]] entries (an array of tables), got a single table or value", key)
	}
	if m := tomlMismatchRE.FindStringSubmatch(msg); m != nil {
		got := map[string]string{"int64": "an integer", "float64": "a float", "string": "a string", "bool": "a boolean"}[m[1]]
		if got == "" {
			got = "an array"
		}
		return "expected a table, got " + got
	}
	return msg
}

var tomlMismatchRE = regexp.MustCompile(`type mismatch for config\.raw\w*: expected table but found (\S+)$`)

var tomlLineRE = regexp.MustCompile(`^toml: line (\d+) \(last key "([^"]*)"\): (.*)$`)

// tomlError turns a decoder error into an Error with a line.
func (d *decoder) tomlError(err error) *Error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		msg := pe.Message
		if pe.Usage != "" && msg == "" {
			msg = pe.Usage
		}
		return &Error{File: d.file, Line: pe.Position.Line, Key: pe.LastKey, Msg: friendly(pe.LastKey, msg)}
	}
	if m := tomlLineRE.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: d.file, Line: line, Key: m[2], Msg: friendly(m[2], m[3])}
	}

	return &Error{File: d.file, Msg: strings.TrimPrefix(err.Error(), "toml: ")}
}
