package browsertest

import (
	"path/filepath"
	"slices"
	"testing"
)

func TestLookup(t *testing.T) {
	tests := []struct {
		name string
		env  string
	}{
		{name: "CHROMIUM wins", env: filepath.Join(t.TempDir(), "my-chromium")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("CHROMIUM", tt.env)
			got, ok := Lookup()
			if !ok || got != tt.env {
				t.Errorf("Lookup = %q, %v; want %q", got, ok, tt.env)
			}
		})
	}
}

func TestFlagsAreACopy(t *testing.T) {
	a := Flags()
	a[0] = "--changed"
	if b := Flags(); b[0] != "--headless" || !slices.Contains(b, "--no-sandbox") {
		t.Errorf("Flags shares its slice: %v", b)
	}
}
