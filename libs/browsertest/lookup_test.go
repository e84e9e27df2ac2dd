package browsertest

import (
	"os"
	"path/filepath"
	"testing"
)

// TestLookupOnThePath: $CHROMIUM wins; without it the browser is looked up on the
// PATH under both of Debian's names; with neither there is none.
func TestLookupOnThePath(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "chromium-browser")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		chromium string
		path     string
		want     string
		wantOK   bool
	}{
		{name: "CHROMIUM set", chromium: "/opt/chrome/chrome", path: dir, want: "/opt/chrome/chrome", wantOK: true},
		{name: "chromium-browser on the PATH", path: dir, want: exe, wantOK: true},
		{name: "none", path: t.TempDir(), want: "", wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("CHROMIUM", tt.chromium)
			t.Setenv("PATH", tt.path)
			got, ok := Lookup()
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("Lookup() = %q, %v; want %q, %v", got, ok, tt.want, tt.wantOK)
			}
			if ok {
				if p := Find(t); p != tt.want {
					t.Errorf("Find = %q, want %q", p, tt.want)
				}
			}
		})
	}
}
