package control

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
)

// The conntrack listing has two encodings: JSON lines (the default, for
// curl and jq) and a compact binary stream the Go client asks for with
// the Accept header, about ten times cheaper to produce and read. The
// binary stream is a sequence of records, each a tag byte then a body:
//
//	'E' entry:  proto u8 | flags u8 | acct u8 | state len u8 | state bytes |
//	            timeout u32 | mark u32 | worker u32 | original tuple | reply tuple
//	    tuple:  src addr | src port u16 | dst addr | dst port u16 |
//	            type u8 | code u8 | id u16 | packets u64 | bytes u64
//	    addr:   length u8 (0, 4 or 16) | bytes
//	'D' done:   count u64 (entries sent)
//	'X' error:  length u16 | message
//
// All integers are big-endian. The last record is 'D' or 'X'.
const (
	wireMediaType = "application/vnd.statewall.conntrack.v1"

	wireEntry = 'E'
	wireDone  = 'D'
	wireError = 'X'
)

func appendAddr(b []byte, a netip.Addr) []byte {
	switch {
	case !a.IsValid():
		return append(b, 0)
	case a.Is4():
		v := a.As4()
		return append(append(b, 4), v[:]...)
	default:
		v := a.As16()
		return append(append(b, 16), v[:]...)
	}
}

func appendTuple(b []byte, t *Tuple) []byte {
	b = appendAddr(b, t.Src.Addr())
	b = binary.BigEndian.AppendUint16(b, t.Src.Port())
	b = appendAddr(b, t.Dst.Addr())
	b = binary.BigEndian.AppendUint16(b, t.Dst.Port())
	b = append(b, t.Type, t.Code)
	b = binary.BigEndian.AppendUint16(b, t.ID)
	b = binary.BigEndian.AppendUint64(b, t.Packets)
	return binary.BigEndian.AppendUint64(b, t.Bytes)
}

// appendWireEntry appends e as an 'E' record.
func appendWireEntry(b []byte, e *Entry) []byte {
	state := e.State
	if len(state) > 255 {
		state = state[:255]
	}
	acct := byte(0)
	if e.Acct {
		acct = 1
	}
	b = append(b, wireEntry, byte(e.Proto), byte(e.Flags), acct, byte(len(state)))
	b = append(b, state...)
	b = binary.BigEndian.AppendUint32(b, e.Timeout)
	b = binary.BigEndian.AppendUint32(b, e.Mark)
	b = binary.BigEndian.AppendUint32(b, uint32(e.Worker))
	b = appendTuple(b, &e.Original)
	return appendTuple(b, &e.Reply)
}

func appendWireDone(b []byte, count int) []byte {
	return binary.BigEndian.AppendUint64(append(b, wireDone), uint64(count))
}

func appendWireError(b []byte, msg string) []byte {
	if len(msg) > 0xffff {
		msg = msg[:0xffff]
	}
	b = binary.BigEndian.AppendUint16(append(b, wireError), uint16(len(msg)))
	return append(b, msg...)
}

// wireReader decodes a binary listing.
type wireReader struct {
	r       *bufio.Reader
	scratch [32]byte
	// states interns state names so that decoding allocates nothing per
	// entry for the handful of names there are.
	states map[string]string
}

func newWireReader(r io.Reader) *wireReader {
	return &wireReader{r: bufio.NewReaderSize(r, 64<<10), states: map[string]string{}}
}

var errWireCorrupt = errors.New("corrupt conntrack stream")

func (w *wireReader) full(n int) ([]byte, error) {
	b := w.scratch[:n]
	if _, err := io.ReadFull(w.r, b); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return b, nil
}

func (w *wireReader) u8() (byte, error) { return w.r.ReadByte() }

func (w *wireReader) addr() (netip.Addr, error) {
	n, err := w.u8()
	if err != nil {
		return netip.Addr{}, err
	}
	switch n {
	case 0:
		return netip.Addr{}, nil
	case 4:
		b, err := w.full(4)
		if err != nil {
			return netip.Addr{}, err
		}
		return netip.AddrFrom4([4]byte(b)), nil
	case 16:
		b, err := w.full(16)
		if err != nil {
			return netip.Addr{}, err
		}
		return netip.AddrFrom16([16]byte(b)), nil
	}
	return netip.Addr{}, fmt.Errorf("%w: address length %d", errWireCorrupt, n)
}

func (w *wireReader) tuple(t *Tuple) error {
	src, err := w.addr()
	if err != nil {
		return err
	}
	b, err := w.full(2)
	if err != nil {
		return err
	}
	t.Src = netip.AddrPortFrom(src, binary.BigEndian.Uint16(b))
	dst, err := w.addr()
	if err != nil {
		return err
	}
	if b, err = w.full(2 + 4 + 16); err != nil {
		return err
	}
	t.Dst = netip.AddrPortFrom(dst, binary.BigEndian.Uint16(b))
	t.Type, t.Code = b[2], b[3]
	t.ID = binary.BigEndian.Uint16(b[4:])
	t.Packets = binary.BigEndian.Uint64(b[6:])
	t.Bytes = binary.BigEndian.Uint64(b[14:])
	return nil
}

// next reads one record into e. It returns done with the server's count
// at the end of a complete listing, or the server's error.
func (w *wireReader) next(e *Entry) (done bool, count uint64, err error) {
	tag, err := w.u8()
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return false, 0, err
	}
	switch tag {
	case wireDone:
		b, err := w.full(8)
		if err != nil {
			return false, 0, err
		}
		return true, binary.BigEndian.Uint64(b), nil
	case wireError:
		b, err := w.full(2)
		if err != nil {
			return false, 0, err
		}
		msg := make([]byte, binary.BigEndian.Uint16(b))
		if _, err := io.ReadFull(w.r, msg); err != nil {
			return false, 0, io.ErrUnexpectedEOF
		}
		return false, 0, &APIError{Status: 200, Message: string(msg)}
	case wireEntry:
	default:
		return false, 0, fmt.Errorf("%w: record tag %#x", errWireCorrupt, tag)
	}
	b, err := w.full(4)
	if err != nil {
		return false, 0, err
	}
	*e = Entry{Proto: Proto(b[0]), Flags: Flags(b[1]), Acct: b[2] != 0}
	if n := int(b[3]); n > 0 {
		sb, err := w.full(min(n, len(w.scratch)))
		if err != nil {
			return false, 0, err
		}
		if n > len(w.scratch) {
			// Longer than any state name we know: read the rest plainly.
			rest := make([]byte, n-len(w.scratch))
			if _, err := io.ReadFull(w.r, rest); err != nil {
				return false, 0, io.ErrUnexpectedEOF
			}
			e.State = string(sb) + string(rest)
		} else if s, ok := w.states[string(sb)]; ok {
			e.State = s
		} else {
			e.State = string(sb)
			if len(w.states) < 64 {
				w.states[e.State] = e.State
			}
		}
	}
	if b, err = w.full(12); err != nil {
		return false, 0, err
	}
	e.Timeout = binary.BigEndian.Uint32(b)
	e.Mark = binary.BigEndian.Uint32(b[4:])
	e.Worker = int(binary.BigEndian.Uint32(b[8:]))
	if err := w.tuple(&e.Original); err != nil {
		return false, 0, err
	}
	if err := w.tuple(&e.Reply); err != nil {
		return false, 0, err
	}
	return false, 0, nil
}
