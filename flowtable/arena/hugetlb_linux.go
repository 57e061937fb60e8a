//go:build linux && !arm

package arena

import "syscall"

// mapHugeTLB is mmap's MAP_HUGETLB flag.
const mapHugeTLB = syscall.MAP_HUGETLB
