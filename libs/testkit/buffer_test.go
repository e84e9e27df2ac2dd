package testkit

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestSyncBufferConcurrentWrites(t *testing.T) {
	t.Parallel()
	var b SyncBuffer
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 100 {
				fmt.Fprintf(&b, "writer %d line %d\n", i, j)
			}
		})
	}
	wg.Wait()
	if got := len(b.Lines()); got != 800 {
		t.Errorf("%d lines, want 800", got)
	}
	if !b.Contains("writer 7 line 99") {
		t.Error("a line is missing")
	}
}

func TestSyncBufferLines(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, written string
		want          []string
	}{
		{name: "nothing", written: "", want: nil},
		{name: "one line", written: "a\n", want: []string{"a"}},
		{name: "unterminated", written: "a\nb", want: []string{"a", "b"}},
		{name: "blank line kept", written: "a\n\nb\n", want: []string{"a", "", "b"}},
	}
	for _, tt := range tests {
		var b SyncBuffer
		_, _ = b.Write([]byte(tt.written))
		if got := b.Lines(); !slices.Equal(got, tt.want) {
			t.Errorf("%s: Lines() = %q, want %q", tt.name, got, tt.want)
		}
		if b.String() != tt.written {
			t.Errorf("%s: String() = %q", tt.name, b.String())
		}
	}
}

func TestSyncBufferWaitFor(t *testing.T) {
	t.Parallel()
	var b SyncBuffer
	go func() {
		for i := range 5 {
			fmt.Fprintf(&b, "step %d\n", i)
		}
		fmt.Fprintln(&b, `{"msg":"ready"}`)
	}()
	b.WaitFor(t, `"msg":"ready"`)

	f := runFake(t, func(tb *fakeT) { b.WaitFor(tb, "never written", Timeout(20*time.Millisecond)) })
	for _, want := range []string{`"never written" to be written`, "not written yet", "written so far:", "step 4"} {
		if !strings.Contains(f.fatal, want) {
			t.Errorf("failure %q lacks %q", f.fatal, want)
		}
	}
}
