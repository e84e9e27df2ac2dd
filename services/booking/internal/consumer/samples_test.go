package consumer

import (
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/services/booking/internal/booking"
)

// TestDecodeJobRequestSamples decodes the admin service's sample of
// admin.job.requested (libs/events) as the job consumer does, and checks
// it names a job, an entity booking owns and an action it knows.
func TestDecodeJobRequestSamples(t *testing.T) {
	samples, err := events.Samples()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ev := range samples {
		if ev.Type != JobsSubject {
			continue
		}
		found = true
		var req events.JobRequest
		if err := ev.UnmarshalData(&req); err != nil {
			t.Fatalf("sample from %s: %v", ev.Source, err)
		}
		entities := []string{booking.BulkSessions, booking.BulkVolunteers, booking.BulkContact, booking.BulkEvents}
		switch {
		case req.JobID == uuid.Nil || ev.Key != events.JobKey(req.JobID):
			t.Errorf("sample from %s: job %s, key %q", ev.Source, req.JobID, ev.Key)
		case !slices.Contains(entities, req.Entity):
			t.Errorf("sample from %s: entity %q is not one of booking's %v", ev.Source, req.Entity, entities)
		case req.Action != booking.JobDelete && req.Action != booking.JobStatusUpdate:
			t.Errorf("sample from %s: action %q", ev.Source, req.Action)
		case len(req.IDs) == 0:
			t.Errorf("sample from %s names no ids", ev.Source)
		}
	}
	if !found {
		t.Errorf("no publisher provides a sample of %s", JobsSubject)
	}
}
