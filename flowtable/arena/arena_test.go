package arena

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
)

// hugePagesFree reads HugePages_Free from /proc/meminfo (-1 when unknown).
func hugePagesFree() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return -1
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "HugePages_Free:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return -1
			}
			return n
		}
	}
	return -1
}

func TestAllocWriteFree(t *testing.T) {
	for _, p := range []Pages{PagesHuge, PagesDefault, PagesSmall} {
		mem, huge, err := AllocPages(3<<20+5, p)
		if err != nil {
			t.Fatalf("%v: %v", p, err)
		}
		if len(mem) != 3<<20+5 {
			t.Fatalf("%v: len %d", p, len(mem))
		}
		if huge && p != PagesHuge {
			t.Fatalf("%v: reported huge", p)
		}
		for i := 0; i < len(mem); i += 4096 {
			if mem[i] != 0 {
				t.Fatalf("%v: memory not zeroed", p)
			}
			mem[i] = 1
		}
		t.Logf("%v: huge=%v", p, huge)
		if err := Free(mem); err != nil {
			t.Fatal(err)
		}
	}
}

// TestHugeFallback asks for more hugepages than are free: Alloc must fall
// back to ordinary pages and say so.
func TestHugeFallback(t *testing.T) {
	free := hugePagesFree()
	if free < 0 {
		t.Skip("no /proc/meminfo HugePages_Free")
	}
	if free > 64 {
		// The fallback would map and fault in more than 128 MiB;
		// TestFallbackWhenHugeFails covers the path with a failing mmap.
		t.Skipf("%d hugepages free: too many to exhaust cheaply", free)
	}
	mem, huge, err := Alloc((free + 1) * HugePageSize)
	if err != nil {
		t.Fatal(err)
	}
	defer Free(mem)
	if huge {
		t.Fatalf("%d free hugepages, yet %d were mapped", free, free+1)
	}
	mem[len(mem)-1] = 1
}

func TestAllocErrors(t *testing.T) {
	if _, _, err := Alloc(0); err == nil {
		t.Error("Alloc(0) succeeded")
	}
	if err := Free(nil); err != nil {
		t.Error(err)
	}
}
