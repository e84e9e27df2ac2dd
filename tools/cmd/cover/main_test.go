package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReportFromProfiles: -report reads the profiles of the last run,
// merges the blocks two test binaries reported, and fails a module under
// its target or whose tests failed.
func TestReportFromProfiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Two binaries' reports of the same blocks, concatenated as go test
	// writes them: 3 of 4 statements covered once merged.
	write("libs.cov", `mode: set
github.com/acube/platform/libs/web/server.go:1.1,2.2 1 1
github.com/acube/platform/libs/web/server.go:3.1,4.2 2 0
github.com/acube/platform/libs/web/probes.go:1.1,2.2 1 0
mode: set
github.com/acube/platform/libs/web/server.go:3.1,4.2 2 1
github.com/acube/platform/libs/web/probes.go:1.1,2.2 1 0
`)
	write("services_mailer.cov", "mode: set\ngithub.com/acube/platform/services/mailer/internal/send/send.go:1.1,2.2 5 1\n")
	write("services_mailer.cov.failed", "")

	tests := []struct {
		name    string
		args    []string
		want    []string
		wantErr error
	}{
		{name: "libs under its target", args: []string{"-report", "-dir", dir, "libs"}, want: []string{"libs", "75.0%", "80%", "FAIL"}, wantErr: errBelow},
		{name: "lower target", args: []string{"-report", "-dir", dir, "-targets", "libs=70", "libs"}, want: []string{"75.0%", "70%", "PASS", "web", "1 uncovered"}},
		{name: "failed tests fail", args: []string{"-report", "-dir", dir, "services/mailer"}, want: []string{"100.0%", "85%", "FAIL (tests failed)"}, wantErr: errBelow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut strings.Builder
			err := run(t.Context(), tt.args, &out, &errOut)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("run = %v, want %v\n%s", err, tt.wantErr, errOut.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
	var out, errOut strings.Builder
	if err := run(t.Context(), []string{"-report", "-dir", dir}, &out, &errOut); err == nil {
		t.Error("run with no module succeeded")
	}
}
