package projection

import (
	"strings"
	"testing"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/services/exporter/internal/audit"
)

// TestDecodeAuditSamples decodes every publisher's audit sample (booking,
// admin, the exporter itself; libs/events) as Handle does before it
// inserts: each becomes a record of its entity and action.
func TestDecodeAuditSamples(t *testing.T) {
	samples, err := events.Samples()
	if err != nil {
		t.Fatal(err)
	}
	sources := map[string]bool{}
	for _, ev := range samples {
		if !strings.HasPrefix(ev.Type, audit.SubjectPrefix) {
			continue
		}
		sources[ev.Source] = true
		rec, err := audit.FromEvent(ev)
		if err != nil {
			t.Errorf("sample %s from %s: %v", ev.Type, ev.Source, err)
			continue
		}
		if ev.Type != audit.SubjectPrefix+rec.Entity+"."+rec.Action || rec.EventID != ev.ID {
			t.Errorf("sample %s from %s became %+v", ev.Type, ev.Source, rec)
		}
	}
	for _, src := range []string{"booking", "admin", "exporter"} {
		if !sources[src] {
			t.Errorf("no audit sample from %s", src)
		}
	}
}
