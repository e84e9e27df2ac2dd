package export

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/events/eventstest"
)

// TestSamples writes or checks the samples of what the exporter publishes
// (run with -update-samples after changing it); each has the export's key.
func TestSamples(t *testing.T) {
	at := time.Date(2030, time.March, 14, 9, 30, 0, 0, time.UTC)
	id := uuid.MustParse("01958f2e-1a00-7000-8000-000000000050")
	admin := "01958f2e-1a00-7000-8000-00000000003c"
	audit := events.AuditRecord{ActorID: admin, ActorEmail: "admin@acube.local", Action: "export", Entity: "audit_log",
		EntityID: id.String(), ClientIP: "203.0.113.7",
		Changes: events.AuditChanges(map[string]any{"export_id": id.String(), "filters": map[string]any{"entity": "sessions"}}), OccurredAt: at}
	tests := []struct {
		typ  string
		data any
		want string
	}{
		{TypeCompleted, events.ExportCompleted{ExportID: id, AdminID: admin, AdminEmail: "admin@acube.local", AdminName: "Ada Admin",
			Kind: KindAuditLogs, Rows: 1234567, Bytes: 187_400_000, DownloadURL: "https://acube.example/api/admin/exports/" + id.String() + "/file",
			ExpiresAt: at.Add(7 * 24 * time.Hour), CompletedAt: at}, events.ExportKey(id)},
		{TypeFailed, FailedData{ExportID: id, AdminID: admin, AdminEmail: "admin@acube.local", AdminName: "Ada Admin",
			Error: "the database was unavailable", StatusURL: "https://acube.example/api/admin/exports/" + id.String()}, events.ExportKey(id)},
		{TypeAuditRequested, audit, "audit_log:" + id.String()},
	}
	for _, tt := range tests {
		ev, err := events.New(Source, tt.typ, tt.data)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Key != tt.want {
			t.Errorf("%s has key %q, want %q", tt.typ, ev.Key, tt.want)
		}
		eventstest.Golden(t, ev, tt.typ)
	}
}
