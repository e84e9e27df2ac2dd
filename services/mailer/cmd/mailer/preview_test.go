package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	libconfig "github.com/acube/platform/libs/config"
)

func TestPreview(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		wantFiles []string
		wantErr   bool
	}{
		{name: "one email", args: []string{"session_confirmation"},
			wantFiles: []string{"session_confirmation.html", "session_confirmation.txt", "session_confirmation.eml"}},
		{name: "all", args: []string{"all"}, wantFiles: []string{"welcome.eml", "export_ready.html", "bulk_operation_report.txt",
			"event_rescheduled.eml", "event_registration_cancelled.txt", "event_registration_cancelled_by_admin.html"}},
		{name: "an event notice", args: []string{"event_rescheduled"},
			wantFiles: []string{"event_rescheduled.html", "event_rescheduled.txt", "event_rescheduled.eml"}},
		{name: "unknown", args: []string{"nope"}, wantErr: true},
		{name: "no name", args: nil, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			var out bytes.Buffer
			err := preview(append([]string{"-out", dir}, tt.args...), libconfig.Map(nil), &out)
			if (err != nil) != tt.wantErr {
				t.Fatalf("preview error = %v, want error %v\n%s", err, tt.wantErr, out.String())
			}
			for _, f := range tt.wantFiles {
				b, err := os.ReadFile(filepath.Join(dir, f))
				if err != nil || len(b) == 0 {
					t.Errorf("%s: %v (%d bytes)", f, err, len(b))
				}
				if strings.HasSuffix(f, ".eml") && !bytes.Contains(b, []byte("Message-ID:")) {
					t.Errorf("%s has no Message-ID", f)
				}
			}
		})
	}
}
