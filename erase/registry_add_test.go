package erase

import (
	"strings"
	"testing"
)

// A category the receipt could not carry is refused when the store is
// registered, not at the end of a reset (where Sign would refuse it).
func TestAddRefusesCategoryTheReceiptCannotCarry(t *testing.T) {
	for _, c := range []Category{"", Category(strings.Repeat("c", maxName+1)), "line\nbreak"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Add accepted category %q", c)
				}
			}()
			NewRegistry().Add(&DirStore{StoreName: "s", Dir: t.TempDir()}, c)
		}()
	}
	NewRegistry().Add(&DirStore{StoreName: "s", Dir: t.TempDir()}, Category(strings.Repeat("c", maxName)))
}
