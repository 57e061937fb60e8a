//go:build !amd64 && !arm64

package flowtable

// hasPrefetch reports that prefetch is a real prefetch instruction.
const hasPrefetch = false

// prefetch does nothing on architectures without an assembly prefetch: a
// plain load would stall on the miss it is meant to hide.
func prefetch(addr uintptr) {}

// PrefetchAll does nothing here (see prefetch).
func PrefetchAll(addrs []uintptr) {}
