//go:build amd64 || arm64

package flowtable

// hasPrefetch reports that prefetch is a real prefetch instruction.
const hasPrefetch = true

// prefetch asks the CPU to bring the cache line at addr into L1 (PREFETCHT0
// on amd64, PRFM PLDL1KEEP on arm64). It never faults, whatever addr is.
//
//go:noescape
func prefetch(addr uintptr)

// PrefetchAll prefetches the cache line of every address (a batch per
// call: a call per address costs more than the prefetch). It never
// faults, whatever the addresses.
//
//go:noescape
func PrefetchAll(addrs []uintptr)
