package config

import (
	"strconv"
	"strings"
)

// positions maps TOML key paths to the line that defines them. BurntSushi/toml
// keeps key positions private and loses array-of-tables indexes, so the text
// is scanned once more here: table headers, array-of-tables headers (each
// [[rule]] becomes "rule[0]", "rule[1]", ...) and "key = value" lines.
// Keys inside inline tables and continuation lines of multi-line values take
// the line of the key that opens them.
type positions struct {
	lines  map[string]int // "rule[3].dst" -> 12
	arrays map[string]int // array-of-tables path -> elements seen
}

func scanPositions(text string) *positions {
	p := &positions{lines: map[string]int{}, arrays: map[string]int{}}
	prefix := ""
	depth := 0    // open brackets/braces of a multi-line value
	inMulti := "" // closing delimiter of a multi-line string
	for i, raw := range strings.Split(text, "\n") {
		line := i + 1
		s := raw
		if inMulti != "" {
			if k := strings.Index(s, inMulti); k >= 0 {
				s = s[k+3:]
				inMulti = ""
			} else {
				continue
			}
		}
		if depth > 0 {
			depth, inMulti = scanValue(s, depth)
			continue
		}
		s = strings.TrimSpace(s)
		if s == "" || s[0] == '#' {
			continue
		}
		if strings.HasPrefix(s, "[[") {
			end := strings.Index(s, "]]")
			if end < 0 {
				continue
			}
			parts := splitKey(s[2:end])
			base := p.resolve("", parts[:len(parts)-1])
			path := join(base, parts[len(parts)-1])
			n := p.arrays[path]
			p.arrays[path] = n + 1
			prefix = path + "[" + strconv.Itoa(n) + "]"
			p.set(path, line)
			p.set(prefix, line)
			continue
		}
		if s[0] == '[' {
			end := strings.LastIndex(s, "]")
			if end < 0 {
				continue
			}
			prefix = p.resolve("", splitKey(s[1:end]))
			p.set(prefix, line)
			continue
		}
		eq := keyEnd(s)
		if eq < 0 {
			continue
		}
		key := p.resolve(prefix, splitKey(s[:eq]))
		p.set(key, line)
		depth, inMulti = scanValue(s[eq+1:], 0)
	}
	return p
}

func (p *positions) set(path string, line int) {
	if _, ok := p.lines[path]; !ok {
		p.lines[path] = line
	}
}

// resolve appends dotted key parts to prefix, inserting the current index
// of every array of tables the path passes through.
func (p *positions) resolve(prefix string, parts []string) string {
	path := prefix
	for _, part := range parts {
		path = join(path, part)
		if n := p.arrays[path]; n > 0 {
			path += "[" + strconv.Itoa(n-1) + "]"
		}
	}
	return path
}

// line returns the line of path or of its nearest ancestor, 0 if unknown.
func (p *positions) line(path string) int {
	for path != "" {
		if l, ok := p.lines[path]; ok {
			return l
		}
		k := strings.LastIndexAny(path, ".[")
		if k < 0 {
			return 0
		}
		path = path[:k]
	}
	return 0
}

// find locates a key path given without array indexes (as MetaData.Undecoded
// reports it) and returns its indexed form and line, the first in the file.
func (p *positions) find(plain string) (string, int) {
	best, bestLine := plain, 0
	for path, l := range p.lines {
		if stripIndexes(path) == plain && (bestLine == 0 || l < bestLine) {
			best, bestLine = path, l
		}
	}
	return best, bestLine
}

func stripIndexes(path string) string {
	var b strings.Builder
	skip := false
	for _, c := range path {
		switch {
		case c == '[':
			skip = true
		case c == ']':
			skip = false
		case !skip:
			b.WriteRune(c)
		}
	}
	return b.String()
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// splitKey splits a dotted TOML key, honouring quoted parts.
func splitKey(s string) []string {
	var parts []string
	var cur strings.Builder
	quote := byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '.':
			parts = append(parts, strings.TrimSpace(cur.String()))
			cur.Reset()
		case c == ' ' || c == '\t':
		default:
			cur.WriteByte(c)
		}
	}
	return append(parts, strings.TrimSpace(cur.String()))
}

// keyEnd returns the index of the '=' ending the key of a key/value line.
func keyEnd(s string) int {
	quote := byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '=':
			return i
		}
	}
	return -1
}

// scanValue tracks bracket depth and multi-line strings through a value's
// text, returning the depth left open and the delimiter of an unterminated
// multi-line string.
func scanValue(s string, depth int) (int, string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '#':
			return depth, ""
		case '[', '{':
			depth++
		case ']', '}':
			if depth > 0 {
				depth--
			}
		case '"', '\'':
			if strings.HasPrefix(s[i:], `"""`) || strings.HasPrefix(s[i:], "'''") {
				delim := s[i : i+3]
				k := strings.Index(s[i+3:], delim)
				if k < 0 {
					return depth, delim
				}
				i += 3 + k + 2
				continue
			}
			for i++; i < len(s) && s[i] != c; i++ {
				if c == '"' && s[i] == '\\' {
					i++
				}
			}
		}
	}
	return depth, ""
}
