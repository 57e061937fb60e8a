//go:build linux

package arena

import (
	"fmt"
	"syscall"
)

// AllocPages maps bytes of zeroed memory under the given page policy. huge
// reports that the mapping is backed by reserved hugepages (MAP_HUGETLB).
func AllocPages(bytes int64, pages Pages) (mem []byte, huge bool, err error) {
	return allocPages(bytes, pages, mmapHuge)
}

// mmapHuge maps n bytes (a multiple of HugePageSize) of reserved hugepages.
// MAP_POPULATE faults them in; the mapping fails when too few are free.
func mmapHuge(n int64) ([]byte, error) {
	return syscall.Mmap(-1, 0, int(n), syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_PRIVATE|syscall.MAP_ANONYMOUS|mapHugeTLB|syscall.MAP_POPULATE)
}

// allocPages is AllocPages with the hugepage mapping injected (tests make it fail).
func allocPages(bytes int64, pages Pages, huge func(n int64) ([]byte, error)) ([]byte, bool, error) {
	if bytes <= 0 {
		return nil, false, fmt.Errorf("arena: size %d must be positive", bytes)
	}
	if pages == PagesHuge {
		if m, err := huge(roundUp(bytes, HugePageSize)); err == nil {
			return m[:bytes], true, nil
		}
		// No (or not enough) reserved hugepages: fall back to ordinary pages.
	}
	n := roundUp(bytes, int64(syscall.Getpagesize()))
	m, err := syscall.Mmap(-1, 0, int(n), syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_PRIVATE|syscall.MAP_ANONYMOUS)
	if err != nil {
		return nil, false, fmt.Errorf("arena: mmap %d bytes: %w", n, err)
	}
	advice := syscall.MADV_HUGEPAGE
	if pages == PagesSmall {
		advice = syscall.MADV_NOHUGEPAGE
	}
	// Advice is best effort: a kernel without THP refuses it harmlessly.
	_ = syscall.Madvise(m, advice)
	// Fault every page in now (after the advice, which decides the page
	// size), so that the data path never takes a page fault.
	for i := 0; i < len(m); i += syscall.Getpagesize() {
		m[i] = 0
	}
	return m[:bytes], false, nil
}

// Free unmaps memory returned by Alloc or AllocPages.
func Free(mem []byte) error {
	if cap(mem) == 0 {
		return nil
	}
	if err := syscall.Munmap(mem[:cap(mem)]); err != nil {
		return fmt.Errorf("arena: munmap: %w", err)
	}
	return nil
}

func roundUp(n, to int64) int64 { return (n + to - 1) / to * to }
