package control

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
)

func wireEntries() []Entry {
	es := testEntries()
	es[0].Flags, es[0].Acct, es[0].Mark, es[0].Worker = FlagAssured|FlagExpected, true, 7, 3
	es[0].Original.Packets, es[0].Original.Bytes = 10, 1000
	es[0].Reply.Packets, es[0].Reply.Bytes = 9, 9000
	es = append(es, Entry{Proto: 47, State: strings.Repeat("X", 40)}) // no addresses, a long state
	return es
}

func TestWireRoundTrip(t *testing.T) {
	var b []byte
	want := wireEntries()
	for i := range want {
		b = appendWireEntry(b, &want[i])
	}
	b = appendWireDone(b, len(want))
	var got []Entry
	n, err := listWire(bytes.NewReader(b), func(e *Entry) error { got = append(got, *e); return nil })
	if err != nil || n != len(want) {
		t.Fatalf("listWire: %d, %v", n, err)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entry %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
	// Truncated anywhere: an error, never a short success.
	for cut := 0; cut < len(b); cut++ {
		if _, err := listWire(bytes.NewReader(b[:cut]), func(*Entry) error { return nil }); err == nil {
			t.Fatalf("stream cut at %d of %d accepted", cut, len(b))
		}
	}
	// A server error is passed on as is.
	e := appendWireError(appendWireEntry(nil, &want[0]), "worker 1: gone")
	var ae *APIError
	if n, err := listWire(bytes.NewReader(e), func(*Entry) error { return nil }); n != 1 || !errors.As(err, &ae) || ae.Message != "worker 1: gone" {
		t.Errorf("error record: %d, %v", n, err)
	}
}

func TestWireDecodeAllocs(t *testing.T) {
	var b []byte
	es := testEntries()
	for i := 0; i < 1000; i++ {
		b = appendWireEntry(b, &es[i%len(es)])
	}
	b = appendWireDone(b, 1000)
	r := bytes.NewReader(b)
	allocs := testing.AllocsPerRun(10, func() {
		r.Reset(b)
		if _, err := listWire(r, func(*Entry) error { return nil }); err != nil {
			t.Fatal(err)
		}
	})
	// The reader's buffer and the state map: nothing per entry.
	if allocs > 10 {
		t.Errorf("%v allocations to decode 1000 entries", allocs)
	}
}

// TestListJSONStream reads the listing as curl would, in JSON lines.
func TestListJSONStream(t *testing.T) {
	_, c := startServer(t, Config{Conntrack: &memConntrack{entries: testEntries()}})
	resp, err := c.doAccept(context.Background(), http.MethodGet, pathConntrack, Filter{Proto: ProtoTCP}.Values(), "*/*")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Errorf("content type %q", ct)
	}
	var got []Entry
	n, err := listJSON(resp.Body, func(e *Entry) error { got = append(got, *e); return nil })
	if err != nil || n != 4 {
		t.Fatalf("listJSON: %d, %v", n, err)
	}
	want := testEntries()[:4]
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entry %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}

	_, c = startServer(t, Config{Conntrack: &memConntrack{entries: testEntries(), listErr: errors.New("worker 2 stopped")}})
	resp, err = c.doAccept(context.Background(), http.MethodGet, pathConntrack, nil, "application/json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if n, err := listJSON(resp.Body, func(*Entry) error { return nil }); n != 6 || err == nil || err.Error() != "worker 2 stopped" {
		t.Errorf("listJSON with an engine error: %d, %v", n, err)
	}
}

func FuzzWireReader(f *testing.F) {
	var b []byte
	es := wireEntries()
	for i := range es {
		b = appendWireEntry(b, &es[i])
	}
	f.Add(appendWireDone(b, len(es)))
	f.Add(appendWireError(nil, "boom"))
	f.Add([]byte{'E', 6, 0, 0, 200})
	f.Fuzz(func(t *testing.T, data []byte) {
		var prev []byte
		_, _ = listWire(bytes.NewReader(data), func(e *Entry) error {
			// Whatever decodes must encode and decode to itself.
			prev = appendWireEntry(prev[:0], e)
			var back Entry
			if _, _, err := newWireReader(bytes.NewReader(prev)).next(&back); err != nil || back != *e {
				t.Fatalf("re-decoding %+v: %+v, %v", *e, back, err)
			}
			return nil
		})
	})
}
