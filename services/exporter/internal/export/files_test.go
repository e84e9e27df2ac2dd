package export_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/acube/platform/services/exporter/internal/export"
)

func TestFilesRefuseForeignNames(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	secret := filepath.Join(filepath.Dir(dir), "secret.csv")
	files, err := export.OpenFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer files.Close()
	good := export.NewFileName()
	tests := []struct {
		name string
		file string
	}{
		{name: "parent", file: "../secret.csv"},
		{name: "absolute", file: secret},
		{name: "nested", file: "a/" + good},
		{name: "upper-case hex", file: strings.ToUpper(good[:64]) + ".csv"},
		{name: "short", file: good[:10] + ".csv"},
		{name: "other extension", file: good[:64] + ".txt"},
		{name: "nul", file: good[:63] + "\x00.csv"},
		{name: "empty", file: ""},
		{name: "dot", file: "."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := files.Open(tt.file); !errors.Is(err, export.ErrBadName) {
				t.Errorf("Open(%q) = %v, want ErrBadName", tt.file, err)
			}
			if err := files.Remove(tt.file); !errors.Is(err, export.ErrBadName) {
				t.Errorf("Remove(%q) = %v, want ErrBadName", tt.file, err)
			}
			if _, err := files.Create(tt.file); !errors.Is(err, export.ErrBadName) {
				t.Errorf("Create(%q) = %v, want ErrBadName", tt.file, err)
			}
		})
	}
}

func TestFilesPartLifecycle(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	files, err := export.OpenFiles(filepath.Join(dir, "exports")) // created when missing
	if err != nil {
		t.Fatal(err)
	}
	defer files.Close()
	name := export.NewFileName()
	if other := export.NewFileName(); other == name || len(name) != 68 {
		t.Fatalf("file names %q, %q: want distinct random names", name, other)
	}
	claim := uuid.New()
	f, err := files.Create(export.PartName(name, claim))
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := files.Publish(export.PartName(name, claim), export.NewFileName()); !errors.Is(err, export.ErrBadName) {
		t.Errorf("publishing a part under another export's name = %v, want ErrBadName", err)
	}
	if err := files.Publish(export.PartName(name, claim), name); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	r, err := files.Open(name)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	r.Close()
	if n, err := files.SweepParts(time.Now().Add(time.Hour)); err != nil || n != 0 {
		t.Errorf("SweepParts touched %d files (%v); a published file is no part", n, err)
	}
	if err := files.Remove(name); err != nil {
		t.Fatal(err)
	}
	if err := files.Remove(name); err != nil {
		t.Errorf("removing a file already gone = %v, want nil", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "exports", name)); !os.IsNotExist(err) {
		t.Errorf("file still there after Remove: %v", err)
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
