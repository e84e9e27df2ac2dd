package job_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/logging/logtest"
	"github.com/acube/platform/libs/postgres"
	"github.com/acube/platform/libs/postgres/pgtest"
	"github.com/acube/platform/services/admin/internal/job"
	"github.com/acube/platform/services/admin/internal/migrations"
	"github.com/acube/platform/services/admin/internal/store"
)

type nopRecorder struct{}

func (nopRecorder) Submitted(string, string, string)                    {}
func (nopRecorder) Finished(string, string, string, time.Duration, int) {}

// TestIntegrationJobLogsBackgroundJobLines submits bulk jobs of more than
// 100 ids against the real store, answers them as the owner would, and
// reads the admin's "BACKGROUND JOB" lines: the job from request to its
// audited end.
func TestIntegrationJobLogsBackgroundJobLines(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := postgres.Open(ctx, postgres.Config{URL: pgtest.NewMigrated(t, "admin", migrations.Sets()...), Schema: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	st := store.NewJobs(pool)
	log, logs := logtest.NewLogger()
	svc := job.NewService(st, nopRecorder{}, 10000, time.Now, job.WithLogger(log))
	owner := func(typ string, data any) {
		t.Helper()
		ev, err := events.New("booking", typ, data)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.InTx(ctx, func(tx job.Tx) error { return svc.HandleOwnerEvent(ctx, tx, ev) }); err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
	}
	ids := make([]string, 150)
	for i := range ids {
		ids[i] = uuid.NewString()
	}
	actor := job.Actor{ID: "adm-7", Email: "ops@example.org", Name: "Ops", ClientIP: "192.0.2.4"}

	tests := []struct {
		name      string
		action    string
		req       job.Request
		refuse    string // the owner refuses the whole job with this error
		wantMsg   string
		wantLevel string
		wantState string
	}{
		{name: "bulk delete", action: job.ActionDelete, req: job.Request{Entity: "sessions", IDs: ids},
			wantMsg: "BACKGROUND JOB completed", wantLevel: "INFO", wantState: job.StateCompleted},
		// The owner may still refuse a job the admin service accepted.
		{name: "refused status update", action: job.ActionStatusUpdate, req: job.Request{Entity: "sessions", IDs: ids, Status: "confirmed"},
			refuse: "booking has no bulk entity", wantMsg: "BACKGROUND JOB failed", wantLevel: "ERROR", wantState: job.StateFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j, err := svc.Submit(ctx, actor, tt.action, tt.req, "async")
			if err != nil {
				t.Fatal(err)
			}
			where := map[string]any{"job_id": j.ID.String(), "kind": "bulk_" + tt.action, "entity": tt.req.Entity}
			started := logtest.Find(logs.Lines(t), "BACKGROUND JOB started", where)
			if len(started) != 1 || started[0].Level() != "INFO" || started[0].Str("state") != job.StateQueued ||
				started[0]["ids"] != float64(150) || started[0].Str("requested_by") != "adm-7" || started[0].Str("mode") != "async" {
				t.Fatalf("started lines %v, want one at INFO: queued, 150 ids, requested by adm-7", started)
			}
			chunks := 0
			if tt.refuse == "" {
				chunks = 2
				for c := range chunks {
					part := ids[c*75 : (c+1)*75]
					owner(job.TypeOwnerProgress, events.JobProgress{JobID: j.ID, Chunk: c, Chunks: chunks, Processed: 75,
						Succeeded: 74, Failed: 1, SucceededIDs: part[:74], NotFoundIDs: part[74:]})
				}
			}
			owner(job.TypeOwnerCompleted, events.JobOwnerCompleted{JobID: j.ID, Chunks: chunks, Error: tt.refuse,
				CompletedAt: time.Now()})

			lines := logs.Lines(t)
			end := logtest.Find(lines, tt.wantMsg, where)
			if len(end) != 1 {
				t.Fatalf("%d %q lines, want 1", len(end), tt.wantMsg)
			}
			l := end[0]
			want := map[string]any{"state": tt.wantState, "total": 150, "chunks": chunks}
			if tt.refuse == "" {
				want = map[string]any{"state": tt.wantState, "total": 150, "processed": 150, "succeeded": 148,
					"failed": 2, "not_found": 2, "chunks": 2}
			} else {
				want["error"] = tt.refuse
				want["will_retry"] = false
			}
			if l.Level() != tt.wantLevel || len(logtest.Find(end, tt.wantMsg, want)) != 1 || !l.Has("duration_ms") {
				t.Errorf("end line %v, want %s with %v and a duration", l, tt.wantLevel, want)
			}
			// The owner logs the progress of the chunks it runs; the
			// admin adds no line per chunk.
			if n := len(logtest.Find(lines, "BACKGROUND JOB progress", where)); n != 0 {
				t.Errorf("%d progress lines from the admin, want 0", n)
			}
		})
	}
}
