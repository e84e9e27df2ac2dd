package logging

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestNew: one JSON line per record, tagged with the service, at the
// configured level; an unknown or empty level is info, never silence.
func TestNew(t *testing.T) {
	t.Parallel()
	tests := []struct {
		level      string
		wantLevels []string
	}{
		{level: "debug", wantLevels: []string{"DEBUG", "INFO", "WARN", "ERROR"}},
		{level: "INFO", wantLevels: []string{"INFO", "WARN", "ERROR"}},
		{level: "", wantLevels: []string{"INFO", "WARN", "ERROR"}},
		{level: "verbose", wantLevels: []string{"INFO", "WARN", "ERROR"}},
		{level: "Warn", wantLevels: []string{"WARN", "ERROR"}},
		{level: "error", wantLevels: []string{"ERROR"}},
	}
	for _, tt := range tests {
		t.Run("level "+tt.level, func(t *testing.T) {
			t.Parallel()
			var b bytes.Buffer
			log := New(&b, "booking", tt.level)
			log.Debug("d")
			log.Info("i")
			log.Warn("w")
			log.Error("e", "registration_id", "r1")
			var got []string
			for line := range strings.SplitSeq(strings.TrimSpace(b.String()), "\n") {
				var rec map[string]any
				if err := json.Unmarshal([]byte(line), &rec); err != nil {
					t.Fatalf("line %q is not JSON: %v", line, err)
				}
				if rec["service"] != "booking" {
					t.Errorf("line %q has no service=booking", line)
				}
				got = append(got, rec["level"].(string))
			}
			if strings.Join(got, ",") != strings.Join(tt.wantLevels, ",") {
				t.Errorf("levels written %v, want %v", got, tt.wantLevels)
			}
		})
	}
}
