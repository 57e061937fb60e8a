package replay

import (
	"bufio"
	"io"
	"strconv"
	"time"

	"github.com/statewall/statewall/dataplane/pipeline"
	"github.com/statewall/statewall/flowtable/ctstate"
)

// StateNone is the state replay prints for a frame that never reached the
// tracker (not IP, malformed, or a fragment held for reassembly): the
// word Linux's own per-packet answers use for the same frames.
const StateNone = "NONE"

// Record is one line of replay output, as JSON.
type Record struct {
	N       uint64 `json:"n"`
	TS      string `json:"ts"`
	Dir     string `json:"dir"`
	State   string `json:"state"`
	Verdict string `json:"verdict"`
	Rule    string `json:"rule"`
	Reason  string `json:"reason"`
}

// jsonWriter writes one JSON object per outcome without reflection.
type jsonWriter struct {
	w   *bufio.Writer
	buf []byte
}

func newJSONWriter(w io.Writer) *jsonWriter {
	return &jsonWriter{w: bufio.NewWriterSize(w, 1<<16), buf: make([]byte, 0, 256)}
}

// StateName returns the state replay prints for an outcome.
func StateName(o *pipeline.Outcome) string {
	if !o.Tracked {
		return StateNone
	}
	return o.State.String()
}

// RuleName returns the name of the rule that decided an outcome, or the
// policy's name.
func RuleName(o *pipeline.Outcome) string {
	if !o.Tracked && o.Rule < 0 {
		return ""
	}
	if o.Rule >= 0 && o.Ruleset != nil {
		rs := o.Ruleset.Rules()
		if o.Rule < len(rs) {
			return rs[o.Rule].Name
		}
	}
	return "policy"
}

func (j *jsonWriter) write(o *pipeline.Outcome) error {
	b := j.buf[:0]
	b = append(b, `{"n":`...)
	b = strconv.AppendUint(b, o.N, 10)
	b = append(b, `,"ts":"`...)
	if o.Timestamp != 0 {
		b = time.Unix(0, o.Timestamp).UTC().AppendFormat(b, time.RFC3339Nano)
	}
	b = append(b, `","dir":"`...)
	if o.Tracked && o.State != ctstate.Untracked {
		b = append(b, o.Dir.String()...)
	}
	b = append(b, `","state":"`...)
	b = append(b, StateName(o)...)
	b = append(b, `","verdict":"`...)
	b = append(b, o.Verdict.String()...)
	b = append(b, `","rule":`...)
	b = strconv.AppendQuote(b, RuleName(o))
	b = append(b, `,"reason":"`...)
	b = append(b, o.Reason.String()...)
	b = append(b, "\"}\n"...)
	j.buf = b
	_, err := j.w.Write(b)
	return err
}

func (j *jsonWriter) flush() error { return j.w.Flush() }
