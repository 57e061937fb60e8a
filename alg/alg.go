// Package alg holds the application-layer gateways' common ground: the
// Helper interface the connection tracker calls for connections a helper
// is attached to, the per-connection helper scratch state, and the shared
// expectation table that makes announced data connections RELATED.
// Protocol helpers live in subpackages (alg/ftp).
package alg

import (
	"github.com/statewall/statewall/dataplane/packet"
	"github.com/statewall/statewall/flowtable/ctstate"
)

// ConnState is a helper's per-connection scratch space. The tracker keeps
// one beside each entry that has a helper attached, zeroed when the entry
// is created, and passes it to every Inspect call for that connection.
// It is plain bytes so it can live in pointer-free arena memory.
type ConnState [16]byte

// Packet is what a helper sees of one accepted packet of a connection it
// is attached to.
type Packet struct {
	Parsed *packet.Parsed // the packet, headers already parsed
	Dir    ctstate.Dir    // its direction within the connection
	// Orig is the connection's tuple in the original direction
	// (client to server for a control connection).
	Orig  packet.Tuple
	State *ConnState // the helper's scratch for this connection
	Now   uint32     // the worker's coarse clock, milliseconds
}

// Helper inspects the payload of a tracked connection (an FTP control
// connection, say) and announces related connections as expectations.
type Helper interface {
	// Name is the helper's name, as config and metrics spell it ("ftp").
	Name() string
	// Inspect examines one packet the ruleset accepted on an ESTABLISHED
	// connection. It returns ReasonNone to let the packet pass, or a drop
	// reason (ReasonALGDrop for a partial or unparsable command,
	// ReasonALGExpectFull when no expectation could be stored) to drop it.
	// It must not allocate except when it stores an expectation.
	Inspect(pk *Packet) packet.DropReason
}
