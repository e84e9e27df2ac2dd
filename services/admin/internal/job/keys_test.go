package job

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/events/eventstest"
)

// TestSamples writes or checks the samples of what the job path publishes
// (run with -update-samples after changing it); every one has the job's
// key, so a job's request, chunks and completion stay in order.
func TestSamples(t *testing.T) {
	at := time.Date(2030, time.March, 14, 9, 30, 0, 0, time.UTC)
	id := uuid.MustParse("01958f2e-1a00-7000-8000-000000000046")
	admin := events.JobActor{ID: "01958f2e-1a00-7000-8000-00000000003c", Email: "admin@acube.local", Name: "Ada Admin"}
	audit := events.AuditRecord{ActorID: admin.ID, ActorEmail: admin.Email, Action: "requested", Entity: Entity,
		EntityID: id.String(), ClientIP: "203.0.113.7",
		Changes:    events.AuditChanges(map[string]any{"entity": "volunteers", "action": ActionStatusUpdate, "status": "approved", "total": 150}),
		OccurredAt: at}
	tests := []struct {
		typ  string
		data any
	}{
		{TypeRequested, events.JobRequest{JobID: id, Entity: "volunteers", Action: ActionStatusUpdate,
			IDs: []string{"01958f2e-1a00-7000-8000-000000000028"}, Status: "approved", RequestedBy: admin, RequestedAt: at}},
		{TypeCompleted, events.JobCompleted{JobID: id, AdminID: admin.ID, AdminEmail: admin.Email, AdminName: admin.Name,
			Entity: "volunteers", Action: ActionStatusUpdate, Status: "approved", State: StateCompleted, Total: 150,
			Succeeded: 148, Failed: 2, NotFound: 1, RequestedAt: at, CompletedAt: at.Add(42 * time.Second)}},
		{audit.Subject(), audit},
	}
	for _, tt := range tests {
		ev, err := events.New(Source, tt.typ, tt.data)
		if err != nil {
			t.Fatal(err)
		}
		if want := events.JobKey(id); tt.typ != audit.Subject() && ev.Key != want {
			t.Errorf("%s has key %q, want %q", tt.typ, ev.Key, want)
		}
		eventstest.Golden(t, ev, tt.typ)
	}
}

// TestDecodeOwnerSamples decodes the owner's samples (libs/events) as
// HandleOwnerEvent does: every type the job consumer reads has one.
func TestDecodeOwnerSamples(t *testing.T) {
	samples, err := events.Samples()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, ev := range samples {
		if ev.Type != TypeOwnerProgress && ev.Type != TypeOwnerCompleted {
			continue
		}
		seen[ev.Type] = true
		d, err := DecodeOwnerEvent(ev)
		if err != nil {
			t.Errorf("sample %s: %v", ev.Type, err)
			continue
		}
		var jobID uuid.UUID
		switch d := d.(type) {
		case events.JobProgress:
			jobID = d.JobID
		case events.JobOwnerCompleted:
			jobID = d.JobID
		}
		if jobID == uuid.Nil || ev.Key != events.JobKey(jobID) {
			t.Errorf("sample %s: job %s, key %q", ev.Type, jobID, ev.Key)
		}
	}
	for _, typ := range []string{TypeOwnerProgress, TypeOwnerCompleted} {
		if !seen[typ] {
			t.Errorf("no publisher provides a sample of %s", typ)
		}
	}
}
