package coverage

import (
	"strings"
	"testing"
)

// TestProfileMerge: with -coverpkg=./... every test binary reports every
// block; a block counts as covered when any binary ran it, and is counted
// once.
func TestProfileMerge(t *testing.T) {
	t.Parallel()
	first := `mode: set
example.com/m/a/a.go:3.10,5.2 2 1
example.com/m/a/a.go:6.10,8.2 3 0
`
	second := `mode: set
example.com/m/a/a.go:3.10,5.2 2 0
example.com/m/a/a.go:6.10,8.2 3 1
example.com/m/b/b.go:1.1,2.2 4 0
`
	p := NewProfile()
	for _, in := range []string{first, second} {
		if err := p.Add(strings.NewReader(in)); err != nil {
			t.Fatal(err)
		}
	}
	got := p.Blocks()
	want := []Block{
		{File: "example.com/m/a/a.go", StartLine: 3, StartCol: 10, EndLine: 5, EndCol: 2, Stmts: 2, Count: 1},
		{File: "example.com/m/a/a.go", StartLine: 6, StartCol: 10, EndLine: 8, EndCol: 2, Stmts: 3, Count: 1},
		{File: "example.com/m/b/b.go", StartLine: 1, StartCol: 1, EndLine: 2, EndCol: 2, Stmts: 4, Count: 0},
	}
	if len(got) != len(want) {
		t.Fatalf("blocks = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("block %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestProfileRejectsMalformedLines(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		line string
	}{
		{name: "too few fields", line: "example.com/m/a.go:1.1,2.2 1"},
		{name: "no file", line: "1.1,2.2 1 1"},
		{name: "no end", line: "example.com/m/a.go:1.1 1 1"},
		{name: "bad start", line: "example.com/m/a.go:x.1,2.2 1 1"},
		{name: "bad end column", line: "example.com/m/a.go:1.1,2.y 1 1"},
		{name: "position without column", line: "example.com/m/a.go:1,2.2 1 1"},
		{name: "bad statements", line: "example.com/m/a.go:1.1,2.2 s 1"},
		{name: "bad count", line: "example.com/m/a.go:1.1,2.2 1 c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := NewProfile().Add(strings.NewReader("mode: set\n" + tt.line + "\n"))
			if err == nil || !strings.Contains(err.Error(), "line 2") {
				t.Errorf("Add(%q) = %v, want an error naming line 2", tt.line, err)
			}
		})
	}
}
