package consumer

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/logging/logtest"
)

// TestIntegrationJobLogsBackgroundJobLines runs the real consumer on a
// bulk delete of more than 100 ids (the seed's threshold for background
// work) and a job booking refuses, and reads the service log as an
// operator grepping "BACKGROUND JOB" would.
func TestIntegrationJobLogsBackgroundJobLines(t *testing.T) {
	f := newFixture(t)
	log, logs := logtest.NewLogger()
	publish, stop := f.runJobs(t, log, JobsConfig{ChunkSize: 10})

	ids := append(f.book(t, 145), uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString())
	del := events.JobRequest{JobID: uuid.New(), Entity: "sessions", Action: "delete", IDs: ids,
		RequestedBy: events.JobActor{ID: "adm-1", Email: "a@x.org"}, RequestedAt: time.Now()}
	publish(del)
	job := map[string]any{"job_id": del.JobID.String(), "kind": "bulk_delete", "entity": "sessions"}
	done := logs.WaitFor(t, "BACKGROUND JOB completed", job)
	if done.Level() != "INFO" || num(done, "chunks") != 15 || num(done, "processed") != 150 ||
		num(done, "succeeded") != 145 || num(done, "failed") != 5 || !done.Has("duration_ms") {
		t.Errorf("completed line %v, want INFO, 15 chunks, 150 processed, 145 succeeded, 5 failed, a duration", done)
	}
	lines := logs.Lines(t)
	started := logtest.Find(lines, "BACKGROUND JOB started", job)
	if len(started) != 1 || started[0].Level() != "INFO" || num(started[0], "ids") != 150 ||
		num(started[0], "chunks") != 15 || started[0].Str("requested_by") != "adm-1" || !started[0].Has("queued_ms") {
		t.Errorf("started lines %v, want one at INFO with 150 ids in 15 chunks, requested by adm-1", started)
	}
	// Progress is bounded by tenths of the job, not by its chunks: 15
	// chunks give 9 lines, and the counts only grow.
	progress := logtest.Find(lines, "BACKGROUND JOB progress", job)
	if len(progress) != progressSteps-1 {
		t.Errorf("%d progress lines for 15 chunks, want %d", len(progress), progressSteps-1)
	}
	var last int64
	for _, p := range progress {
		d := num(p, "chunks_done")
		if p.Level() != "INFO" || d <= last || d >= 15 || num(p, "processed") != 10*d || num(p, "chunks") != 15 {
			t.Errorf("progress line %v after %d chunks", p, last)
		}
		last = d
	}

	refused := events.JobRequest{JobID: uuid.New(), Entity: "events", Action: "status_update", Status: "x",
		IDs: []string{uuid.NewString()}}
	publish(refused)
	failed := logs.WaitFor(t, "BACKGROUND JOB failed", map[string]any{"job_id": refused.JobID.String(),
		"kind": "bulk_status_update", "entity": "events"})
	if failed.Level() != "ERROR" || failed.Str("error") != "events have no status to update" || failed["will_retry"] != false {
		t.Errorf("failed line %v, want ERROR with the reason, not retried", failed)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// num is a numeric field of l, or -1 when it is missing.
func num(l logtest.Line, key string) int64 {
	n, ok := l.Int(key)
	if !ok {
		return -1
	}
	return n
}
