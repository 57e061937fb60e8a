package arena

// mapHugeTLB is mmap's MAP_HUGETLB flag (missing from syscall on linux/arm).
const mapHugeTLB = 0x40000
