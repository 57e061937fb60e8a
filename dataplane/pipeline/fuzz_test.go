package pipeline_test

import (
	"encoding/binary"
	"testing"

	"github.com/statewall/statewall/dataplane/packet/packettest"
	"github.com/statewall/statewall/dataplane/pipeline"
	"github.com/statewall/statewall/dataplane/port/memport"
)

// FuzzWorker feeds arbitrary frame sequences through a whole worker
// (parse, reassembly, tracking, classification with REJECT replies and
// logging, forwarding): nothing may panic, and every frame must be
// counted once.
func FuzzWorker(f *testing.F) {
	for _, fr := range flows(2, 2) {
		f.Add(fr)
	}
	f.Add(packettest.Frame(packettest.Spec{Src: ap("198.18.0.9:4000"), Dst: ap("198.19.0.2:113"), Proto: "tcp", Flags: packettest.SYN}))
	f.Add(packettest.Frame(packettest.Spec{Src: ap("[fd00::9]:4000"), Dst: ap("[fd00::2]:113"), Proto: "udp"}))
	f.Fuzz(func(t *testing.T, data []byte) {
		// The input is a sequence of frames, each prefixed by its length.
		var frames [][]byte
		for len(data) >= 2 && len(frames) < 64 {
			n := int(binary.BigEndian.Uint16(data))
			data = data[2:]
			if n > len(data) {
				n = len(data)
			}
			frames = append(frames, data[:n])
			data = data[n:]
		}
		if len(data) > 0 {
			frames = append(frames, data)
		}
		logCh := make(chan pipeline.LogRecord, 8)
		w, _, _, _ := newWorker(t, testRules, frames, pipeline.Config{Burst: 8, RejectRate: 100, RejectBurst: 10, Log: logCh, VerifyChecksums: len(frames)%2 == 0}, nil, false, memport.Record())
		for !w.Done() {
			w.Poll()
		}
		w.Publish()
		var c pipeline.Counters
		w.Snapshot(&c)
		if c.Packets != uint64(len(frames)) {
			t.Fatalf("%d packets counted for %d frames", c.Packets, len(frames))
		}
	})
}
