//go:build !linux

package arena

import "fmt"

// AllocPages allocates bytes of zeroed memory from the Go heap (pointer-free,
// never scanned); hugepages are not supported here, so huge is always false.
func AllocPages(bytes int64, pages Pages) (mem []byte, huge bool, err error) {
	if bytes <= 0 {
		return nil, false, fmt.Errorf("arena: size %d must be positive", bytes)
	}
	return make([]byte, bytes), false, nil
}

// Free releases memory returned by Alloc (the collector reclaims it).
func Free(mem []byte) error { return nil }
