// Package arena allocates the large, pointer-free memory regions the flow
// tables live in: anonymous mappings backed by 2 MiB hugepages when the
// system has them reserved, ordinary pages otherwise. The memory is outside
// the Go heap: the collector never scans or moves it, so it must never hold
// Go pointers.
package arena

// HugePageSize is the hugepage size Alloc asks for (x86-64 and arm64 default).
const HugePageSize = 2 << 20

// Pages selects the page size of a mapping.
type Pages uint8

// Page policies for AllocPages.
const (
	// PagesHuge tries MAP_HUGETLB (reserved hugepages) and falls back to
	// PagesDefault when none are available.
	PagesHuge Pages = iota
	// PagesDefault is an ordinary mapping; the kernel may still back it with
	// transparent hugepages when THP is enabled.
	PagesDefault
	// PagesSmall is an ordinary mapping with transparent hugepages disabled
	// (MADV_NOHUGEPAGE): 4 KiB pages, for measurements.
	PagesSmall
)

// String names the policy.
func (p Pages) String() string {
	switch p {
	case PagesHuge:
		return "huge"
	case PagesDefault:
		return "default"
	case PagesSmall:
		return "small"
	}
	return "unknown"
}

// Alloc maps bytes of zeroed memory, from 2 MiB hugepages if it can (huge is
// true) and from ordinary pages otherwise; huge false is the caller's cue to
// log a warning. All of it is faulted in before Alloc returns, so the data
// path never takes a page fault. The memory is released with Free.
func Alloc(bytes int64) (mem []byte, huge bool, err error) {
	return AllocPages(bytes, PagesHuge)
}
