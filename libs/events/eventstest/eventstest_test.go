package eventstest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acube/platform/libs/events"
)

// TestSamplesAreGolden: every sample file is exactly what Golden writes
// for the event it holds (fixed id and time, indented, one trailing
// newline), so a publisher's test compares like with like and a
// hand-edited sample is caught here.
func TestSamplesAreGolden(t *testing.T) {
	names, err := filepath.Glob(filepath.Join(dir(t), "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		t.Fatal("no samples")
	}
	for _, name := range names {
		file := strings.TrimSuffix(filepath.Base(name), ".json")
		t.Run(file, func(t *testing.T) {
			b, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			ev, err := events.Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			Golden(t, ev, file)
		})
	}
}
