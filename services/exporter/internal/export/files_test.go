package export_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/acube/platform/services/exporter/internal/export"
)

// TestFileNames: only the shapes this package makes are export files;
// anything else a row could hold (a path, another extension, upper case)
// is refused before it reaches the bucket.
func TestFileNames(t *testing.T) {
	t.Parallel()
	good := export.NewFileName()
	if other := export.NewFileName(); other == good || len(good) != 68 {
		t.Fatalf("file names %q, %q: want distinct random names", good, other)
	}
	claim := uuid.New()
	run := export.RunFile(good, claim)
	if run == good || run == export.RunFile(good, uuid.New()) || !strings.HasPrefix(run, good[:64]) {
		t.Fatalf("RunFile = %q: want a name of the claim's own, after the export's", run)
	}
	tests := []struct {
		name string
		file string
		want bool
	}{
		{name: "export", file: good, want: true},
		{name: "run", file: run, want: true},
		{name: "parent", file: "../secret.csv"},
		{name: "absolute", file: "/" + good},
		{name: "nested", file: "a/" + good},
		{name: "upper-case hex", file: strings.ToUpper(good[:64]) + ".csv"},
		{name: "short", file: good[:10] + ".csv"},
		{name: "other extension", file: good[:64] + ".txt"},
		{name: "run with a short claim", file: good[:64] + "-abc.csv"},
		{name: "nul", file: good[:63] + "\x00.csv"},
		{name: "empty", file: ""},
		{name: "dot", file: "."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := export.IsFile(tt.file); got != tt.want {
				t.Errorf("IsFile(%q) = %v, want %v", tt.file, got, tt.want)
			}
		})
	}
}

func TestProgress(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		e    export.Export
		want int
	}{
		{name: "queued", e: export.Export{Status: export.Queued, RowsTotal: 10, RowsWritten: 5}, want: 0},
		{name: "running, total unknown", e: export.Export{Status: export.Running}, want: 0},
		{name: "running halfway", e: export.Export{Status: export.Running, RowsTotal: 10, RowsWritten: 5}, want: 50},
		{name: "running, all rows written", e: export.Export{Status: export.Running, RowsTotal: 10, RowsWritten: 10}, want: 99},
		{name: "completed", e: export.Export{Status: export.Completed}, want: 100},
		{name: "failed", e: export.Export{Status: export.Failed, RowsTotal: 10, RowsWritten: 5}, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.e.Progress(); got != tt.want {
				t.Errorf("Progress = %d, want %d", got, tt.want)
			}
		})
	}
}
