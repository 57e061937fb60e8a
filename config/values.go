package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// The raw schema: sections are structs so that MetaData.Undecoded reports
// unknown keys; leaves are `any` so that type errors are reported here with
// the indexed key path and line, which the TOML decoder cannot give for
// arrays of tables.

func typeName(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case int64:
		return "integer"
	case float64:
		return "float"
	case bool:
		return "boolean"
	case []any:
		return "array"
	case []map[string]any:
		return "array of tables"
	case map[string]any:
		return "table"
	}
	return fmt.Sprintf("%T", v)
}

func (d *decoder) boolean(key string, v any, def bool) bool {
	switch x := v.(type) {
	case nil:
		return def
	case bool:
		return x
	}
	d.errf(key, "expected a boolean, got %s", typeName(v))
	return def
}

func (d *decoder) integer(key string, v any, def, lo, hi int64) int64 {
	switch x := v.(type) {
	case nil:
		return def
	case int64:
		if x < lo || x > hi {
			d.errf(key, "%d out of range [%d, %d]", x, lo, hi)
			return def
		}
		return x
	}
	d.errf(key, "expected an integer, got %s", typeName(v))
	return def
}

func (d *decoder) str(key string, v any, def string) string {
	switch x := v.(type) {
	case nil:
		return def
	case string:
		return x
	}
	d.errf(key, "expected a string, got %s", typeName(v))
	return def
}

func (d *decoder) oneOf(key string, v any, def string, allowed ...string) string {
	s := d.str(key, v, def)
	for _, a := range allowed {
		if s == a {
			return s
		}
	}
	d.errf(key, "%q is not one of %s", s, strings.Join(quoteAll(allowed), ", "))
	return def
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strconv.Quote(s)
	}
	return out
}

// list returns v as a list: a scalar is a list of one.
func list(v any) []any {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		return x
	}
	return []any{v}
}

// strList accepts a string or an array of strings.
func (d *decoder) strList(key string, v any) []string {
	var out []string
	for i, e := range list(v) {
		s, ok := e.(string)
		if !ok {
			d.errf(elemKey(key, v, i), "expected a string, got %s", typeName(e))
			continue
		}
		out = append(out, s)
	}
	return out
}

// elemKey names element i of v at key: "key[i]" for arrays, key otherwise.
func elemKey(key string, v any, i int) string {
	if _, ok := v.([]any); ok {
		return fmt.Sprintf("%s[%d]", key, i)
	}
	return key
}

// duration accepts integer seconds or a Go duration string ("120s", "5m",
// "1h30m"), plus a whole number of days ("5d").
func (d *decoder) duration(key string, v any, def time.Duration) time.Duration {
	switch x := v.(type) {
	case nil:
		return def
	case int64:
		if x < 0 || x > math.MaxInt64/int64(time.Second) {
			d.errf(key, "%d seconds out of range", x)
			return def
		}
		return time.Duration(x) * time.Second
	case string:
		if n, ok := strings.CutSuffix(x, "d"); ok {
			days, err := strconv.ParseUint(n, 10, 16)
			if err == nil {
				return time.Duration(days) * 24 * time.Hour
			}
		}
		dur, err := time.ParseDuration(x)
		if err != nil || dur < 0 {
			d.errf(key, "invalid duration %q (use seconds, \"120s\", \"5m\", \"5d\")", x)
			return def
		}
		return dur
	}
	d.errf(key, "expected a duration (integer seconds or string), got %s", typeName(v))
	return def
}

var sizeUnits = []struct {
	suffix string
	mult   uint64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1},
}

// size accepts integer bytes or a string with a unit ("256MiB", "2GiB").
func (d *decoder) size(key string, v any, def uint64) uint64 {
	switch x := v.(type) {
	case nil:
		return def
	case int64:
		if x < 0 {
			d.errf(key, "negative size %d", x)
			return def
		}
		return uint64(x)
	case string:
		for _, u := range sizeUnits {
			if n, ok := strings.CutSuffix(x, u.suffix); ok {
				k, err := strconv.ParseUint(strings.TrimSpace(n), 10, 64)
				if err != nil || k > math.MaxUint64/u.mult {
					break
				}
				return k * u.mult
			}
		}
		d.errf(key, "invalid size %q (use bytes or \"256MiB\", \"2GiB\")", x)
		return def
	}
	d.errf(key, "expected a size (integer bytes or string), got %s", typeName(v))
	return def
}

// fileMode accepts an octal string ("0600") or an integer (0o600).
func (d *decoder) fileMode(key string, v any, def uint32) uint32 {
	switch x := v.(type) {
	case nil:
		return def
	case int64:
		if x < 0 || x > 0o777 {
			d.errf(key, "mode %#o out of range", x)
			return def
		}
		return uint32(x)
	case string:
		m, err := strconv.ParseUint(strings.TrimPrefix(x, "0o"), 8, 32)
		if err != nil || m > 0o777 {
			d.errf(key, "invalid mode %q (use octal, e.g. \"0600\")", x)
			return def
		}
		return uint32(m)
	}
	d.errf(key, "expected a mode (octal string), got %s", typeName(v))
	return def
}
