// Package ctstate holds the connection-tracking vocabulary shared by the
// trackers, the rules and the pipeline: the per-packet state a rule matches
// (ct state) and the packet's direction within its connection.
package ctstate

// State is the conntrack state of one packet, as `ct state` matches it.
type State uint8

// Packet states, as in Linux conntrack.
const (
	Invalid State = iota
	New
	Established
	Related
	Untracked
	numStates
)

// NumStates is the number of distinct states, for counter arrays.
const NumStates = int(numStates)

var stateNames = [...]string{
	Invalid:     "INVALID",
	New:         "NEW",
	Established: "ESTABLISHED",
	Related:     "RELATED",
	Untracked:   "UNTRACKED",
}

// String returns the state as iptables spells it (NEW, ESTABLISHED, ...).
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "UNKNOWN"
}

// ParseState returns the State named s (upper case, as String returns it).
func ParseState(s string) (State, bool) {
	for i, n := range stateNames {
		if n == s {
			return State(i), true
		}
	}
	return 0, false
}

// Set is a set of states, one bit per State, as a `ct state` match holds it.
type Set uint8

// Has reports whether s is in the set.
func (m Set) Has(s State) bool { return m&(1<<s) != 0 }

// With returns the set with s added.
func (m Set) With(s State) Set { return m | 1<<s }

// Dir is a packet's direction within its connection.
type Dir uint8

// Directions: Original is the direction of the connection's first packet.
const (
	Original Dir = iota
	Reply
)

// String returns "original" or "reply", as replay output spells them.
func (d Dir) String() string {
	if d == Reply {
		return "reply"
	}
	return "original"
}
