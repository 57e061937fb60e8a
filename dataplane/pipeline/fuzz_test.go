package pipeline_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/statewall/statewall/dataplane/packet/packettest"
	"github.com/statewall/statewall/dataplane/pipeline"
	"github.com/statewall/statewall/dataplane/port"
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

// FuzzFastPathAgrees damages crafted conversations (TCP and UDP over IPv4
// and IPv6) byte by byte, as the input says, and runs them through a
// worker that takes the fast path and one that cannot: every packet must
// get the same state, direction, verdict and rule, with checksums
// verified or not, and with frames a NIC marked as verified or not.
func FuzzFastPathAgrees(f *testing.F) {
	f.Add([]byte{}, byte(0))
	f.Add([]byte{3, 0, 50, 0x01}, byte(1))                  // a checksum or sequence byte of frame 3
	f.Add([]byte{9, 0, 47, 0x12, 12, 0, 23, 0x40}, byte(3)) // flags, and the IP header
	f.Fuzz(func(t *testing.T, edits []byte, mode byte) {
		frames := craftedFlows()
		for i := range frames {
			frames[i] = bytes.Clone(frames[i])
		}
		// Each edit is four bytes: frame, offset (two), and what to XOR in.
		for ; len(edits) >= 4; edits = edits[4:] {
			fr := frames[int(edits[0])%len(frames)]
			fr[int(binary.BigEndian.Uint16(edits[1:]))%len(fr)] ^= edits[3]
		}
		verify, marked := mode&1 != 0, mode&2 != 0
		var opts []memport.Option
		if marked {
			marks := make([]port.Verified, len(frames))
			for i := range marks {
				marks[i] = port.Verified(mode>>2) & (port.VerifiedIPv4 | port.VerifiedL4)
			}
			opts = append(opts, memport.Verified(marks))
		}
		run := func(noFast bool) []record {
			rec := &recorder{}
			w, _, _, _ := newWorker(t, fastRulesets["drop-web-replies"], frames,
				pipeline.Config{Burst: 8, NoVerdictCache: noFast, VerifyChecksums: verify}, rec, false, opts...)
			for !w.Done() {
				w.Poll()
			}
			return rec.got
		}
		sameOutcomes(t, "fast path", run(false), "general path", run(true))
	})
}
