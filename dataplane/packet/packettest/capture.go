package packettest

import (
	"io"
	"testing"
	"time"

	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/dataplane/port/pcapport"
)

// CaptureFrame is one frame of a capture file.
type CaptureFrame struct {
	Data []byte          // the frame, owned by the caller
	TS   int64           // capture timestamp, ns since the Unix epoch
	Link packet.LinkType // the link type of the frame's interface
}

// Millis is the frame's timestamp in milliseconds since the Unix epoch
// (rounded down, as time.Time.UnixMilli does).
func (f CaptureFrame) Millis() int64 { return time.Unix(0, f.TS).UnixMilli() }

// ReadFrames reads every frame of a pcap, pcapng or gzipped capture with
// the engine's own reader (pcapport). When reading fails partway, it
// returns the frames read before the failure together with the error; a
// capture it cannot open returns no frames and the error.
func ReadFrames(path string) ([]CaptureFrame, error) {
	r, err := pcapport.Open(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var out []CaptureFrame
	for {
		data, ts, link, err := r.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		// Next reuses its buffer: keep a copy.
		out = append(out, CaptureFrame{Data: append([]byte(nil), data...), TS: ts, Link: link})
	}
}

// ReadCapture reads every frame of a capture and fails t on any error,
// including one after some frames were read.
func ReadCapture(t testing.TB, path string) []CaptureFrame {
	t.Helper()
	frames, err := ReadFrames(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return frames
}
