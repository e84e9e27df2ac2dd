package export_test

import (
	"context"
	"testing"
	"time"

	"github.com/acube/platform/libs/logging/logtest"
	"github.com/acube/platform/services/exporter/internal/audit"
	"github.com/acube/platform/services/exporter/internal/export"
)

// pausingSource stops half-way through the rows, once the writer has
// published its count of 1024 (it does every 1024 rows), until the log
// holds the heartbeat's progress line with that count: the line is seen
// without guessing how long an export takes.
type pausingSource struct {
	inner export.RecordSource
	logs  *logtest.Buffer
	t     *testing.T
	where map[string]any
}

func (s pausingSource) Stream(ctx context.Context, f audit.Filter, total func(int64), emit func([]string) error) error {
	n := 0
	return s.inner.Stream(ctx, f, total, func(c []string) error {
		if n++; n == 1100 {
			s.logs.WaitFor(s.t, "BACKGROUND JOB progress", s.where)
		}
		return emit(c)
	})
}

// TestIntegrationWorkerLogsBackgroundJobLines runs an audit export and a
// failing one and reads the worker's log as an operator grepping
// "BACKGROUND JOB" would.
func TestIntegrationWorkerLogsBackgroundJobLines(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	seed(t, e.pool, 2000, "a@example.org")
	x, err := e.svc.Request(ctx, admin, "10.0.0.1", audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	log, logs := logtest.NewLogger()
	job := map[string]any{"job_id": x.ID.String(), "kind": "audit_export", "entity": "audit_log"}
	// A short lease: the heartbeat, and its progress line, every 100 ms.
	halfWay := map[string]any{"job_id": x.ID.String(), "rows_written": 1024}
	w := export.NewWorker(e.st, pausingSource{inner: e.st, logs: logs, t: t, where: halfWay}, e.files, e.m, log, time.Now,
		export.WorkerConfig{Lease: 300 * time.Millisecond, MaxAttempts: 2, TTL: time.Hour})
	if worked, err := w.RunOnce(ctx); !worked || err != nil {
		t.Fatalf("RunOnce = %v, %v", worked, err)
	}
	lines := logs.Lines(t)
	tests := []struct {
		name, msg, level string
		want             map[string]int64 // numeric fields; -1: present, any value
	}{
		{name: "started", msg: "BACKGROUND JOB started", level: "INFO", want: map[string]int64{"attempt": 1, "queued_ms": -1}},
		{name: "progress", msg: "BACKGROUND JOB progress", level: "INFO", want: map[string]int64{"rows_written": -1, "rows_estimate": -1, "percent": -1}},
		{name: "completed", msg: "BACKGROUND JOB completed", level: "INFO", want: map[string]int64{"rows": 2000, "bytes": -1, "duration_ms": -1}},
	}
	for _, tt := range tests {
		got := logtest.Find(lines, tt.msg, job)
		if len(got) == 0 {
			t.Errorf("%s: no line %q for the export", tt.name, tt.msg)
			continue
		}
		l := got[0]
		if tt.name != "progress" && len(got) != 1 {
			t.Errorf("%s: %d lines, want 1", tt.name, len(got))
		}
		if l.Level() != tt.level {
			t.Errorf("%s: level %s, want %s", tt.name, l.Level(), tt.level)
		}
		for k, v := range tt.want {
			n, ok := l.Int(k)
			if !ok || (v >= 0 && n != v) {
				t.Errorf("%s: %s = %v (present %v), want %d", tt.name, k, n, ok, v)
			}
		}
	}
	if s := logtest.Find(lines, "BACKGROUND JOB started", job); len(s) > 0 && s[0].Str("requested_by") != admin.ID {
		t.Errorf("started line %v, want requested_by %s", s[0], admin.ID)
	}

	// A run that fails and will be retried, then the last one.
	z, err := e.svc.Request(ctx, admin, "", audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	wf := export.NewWorker(e.st, failingSource{e.st}, e.files, e.m, log, time.Now,
		export.WorkerConfig{MaxAttempts: 2, RetryDelay: time.Nanosecond, TTL: time.Hour})
	for range 2 {
		if worked, err := wf.RunOnce(ctx); !worked || err != nil {
			t.Fatalf("failing RunOnce = %v, %v", worked, err)
		}
	}
	failed := logtest.Find(logs.Lines(t), "BACKGROUND JOB failed", map[string]any{"job_id": z.ID.String()})
	if len(failed) != 2 {
		t.Fatalf("%d failed lines, want 2 (a retried run and the last one)", len(failed))
	}
	for i, want := range []struct {
		level string
		retry bool
	}{{level: "WARN", retry: true}, {level: "ERROR", retry: false}} {
		l := failed[i]
		if l.Level() != want.level || l["will_retry"] != want.retry || l.Str("error") == "" || l.Str("kind") != "audit_export" {
			t.Errorf("failed line %d: %v, want %s, will_retry %v, with the error", i+1, l, want.level, want.retry)
		}
	}
}
