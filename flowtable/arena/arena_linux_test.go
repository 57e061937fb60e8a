package arena

import (
	"syscall"
	"testing"
)

// TestFallbackWhenHugeFails makes the hugepage mapping fail as it does when
// none are reserved: the allocation must come from ordinary pages, say so,
// and be usable and freeable.
func TestFallbackWhenHugeFails(t *testing.T) {
	fail := func(int64) ([]byte, error) { return nil, syscall.ENOMEM }
	mem, huge, err := allocPages(5<<20, PagesHuge, fail)
	if err != nil {
		t.Fatal(err)
	}
	if huge || len(mem) != 5<<20 {
		t.Fatalf("huge=%v len=%d", huge, len(mem))
	}
	mem[len(mem)-1] = 1
	if err := Free(mem); err != nil {
		t.Fatal(err)
	}
}
