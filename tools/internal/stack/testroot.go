package stack

import (
	"os"
	"testing"
)

// TestRoot is the repository root seen from a test's working directory
// (its package folder); it fails tb when there is none.
func TestRoot(tb testing.TB) string {
	tb.Helper()
	wd, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	root, err := Root(wd)
	if err != nil {
		tb.Fatal(err)
	}
	return root
}
