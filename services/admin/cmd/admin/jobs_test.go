package main

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/logging/logtest"
	"github.com/acube/platform/libs/testkit"
	"github.com/acube/platform/services/admin/internal/job"
	"github.com/acube/platform/services/admin/internal/jobtest"
)

type jobView struct {
	ID        string `json:"id"`
	State     string `json:"state"`
	Total     int    `json:"total"`
	Processed int    `json:"processed"`
	Succeeded int    `json:"succeeded"`
	Failed    int    `json:"failed"`
	NotFound  int    `json:"not_found"`
	StatusURL string `json:"status_url"`
	Failures  []struct {
		ID    string `json:"id"`
		Error string `json:"error"`
	} `json:"failures"`
}

// acceptedView is the 202 of a bulk request (JobAccepted).
type acceptedView struct {
	JobID     string `json:"job_id"`
	Status    string `json:"status"`
	StatusURL string `json:"status_url"`
}

func (h *harness) countJobs() int {
	h.t.Helper()
	var n int
	if err := h.pool.QueryRow(context.Background(), "SELECT count(*) FROM jobs").Scan(&n); err != nil {
		h.t.Fatal(err)
	}
	return n
}

func (h *harness) executor(cfg jobtest.Config) *jobtest.Executor {
	h.t.Helper()
	cfg.DatabaseURL = h.db.URL // the stand-in owner creates its own schema, as the superuser
	e, err := jobtest.Start(context.Background(), h.js, discardLogger(), cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	return e
}

func (h *harness) job(token, id string) jobView {
	h.t.Helper()
	r := h.do("GET", "/api/admin/jobs/"+id, token, nil, "")
	if r.status != 200 {
		h.t.Fatalf("GET job %s = %d %s", id, r.status, r.body)
	}
	var j jobView
	r.json(h.t, &j)
	return j
}

func TestIntegrationBulkSyncFallsBackTo202(t *testing.T) {
	t.Parallel()
	h := newHarness(t, map[string]string{"ADMIN_BULK_SYNC_WAIT": "300ms"})
	h.bootstrap("root@example.org")
	root := h.login("root@example.org", rootPassword, "")

	// No owner is running: a small job cannot finish within the wait, so
	// the request answers 202 with the job id; the job stays durable and
	// finishes once the owner runs.
	r := h.do("POST", "/api/admin/bulk/delete", root.AccessToken, job.Request{Entity: "sessions", IDs: []string{uuid.NewString()}}, "")
	if r.status != http.StatusAccepted {
		t.Fatalf("sync without owner = %d %s, want 202", r.status, r.body)
	}
	var a acceptedView
	r.json(t, &a)
	if a.Status != job.StateQueued || a.StatusURL != "/api/admin/jobs/"+a.JobID || r.header.Get("Location") != a.StatusURL {
		t.Fatalf("202 = %s", r.body)
	}
	exec := h.executor(jobtest.Config{ChunkSize: 40})
	t.Cleanup(exec.Stop)
	var j jobView
	testkit.Eventually(t, "the queued job to finish once the owner runs", func() bool {
		j = h.job(root.AccessToken, a.JobID)
		return j.State == job.StateCompleted
	})
	if j.NotFound != 1 || j.Failed != 1 {
		t.Fatalf("job = %+v", j)
	}
}

func TestIntegrationBulkSyncAndAsync(t *testing.T) {
	t.Parallel()
	// Info level: the test reads the service's BACKGROUND JOB lines.
	h := newHarness(t, map[string]string{"ADMIN_BULK_SYNC_WAIT": "60s", "LOG_LEVEL": "info"})
	h.bootstrap("root@example.org")
	root := h.login("root@example.org", rootPassword, "")
	h.createAdmin(root.AccessToken, "ada@example.org", "admin", "analytical engine")
	ada := h.login("ada@example.org", "analytical engine", "203.0.113.5")

	exec := h.executor(jobtest.Config{ChunkSize: 40})
	t.Cleanup(exec.Stop)
	ctx := context.Background()
	ids, err := exec.Seed(ctx, "volunteers", 150)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("validation", func(t *testing.T) {
		for _, body := range []job.Request{
			{Entity: "users", IDs: ids[:1]},
			{Entity: "volunteers"},
			{Entity: "volunteers", IDs: []string{"1; DROP TABLE"}},
			{Entity: "volunteers", IDs: ids[:1], Status: "approved"}, // status on a delete
		} {
			if r := h.do("POST", "/api/admin/bulk/delete", ada.AccessToken, body, ""); r.status != 422 {
				t.Errorf("%+v = %d %s, want 422", body, r.status, r.body)
			}
		}
		// A status the entity does not have is refused before any job
		// exists (issue 14: it was a failed job and a report of "Failed 0").
		jobsBefore := h.countJobs()
		for _, tt := range []struct {
			name  string
			req   job.Request
			field string
		}{
			{"no status", job.Request{Entity: "volunteers", IDs: ids[:1]}, "status"},
			{"bogus status", job.Request{Entity: "volunteers", IDs: ids[:1], Status: "bogus"}, "status"},
			{"another entity's status", job.Request{Entity: "volunteers", IDs: ids[:1], Status: "confirmed"}, "status"},
			{"bogus status, many ids", job.Request{Entity: "volunteers", IDs: ids[:101], Status: "bogus"}, "status"},
			{"events have no status", job.Request{Entity: "events", IDs: ids[:1], Status: "approved"}, "entity"},
		} {
			r := h.do("POST", "/api/admin/bulk/status-update", ada.AccessToken, tt.req, "")
			var e struct {
				Fields map[string]string `json:"fields"`
			}
			r.json(t, &e)
			if r.status != 422 || e.Fields[tt.field] == "" {
				t.Errorf("%s = %d %s, want 422 naming %s", tt.name, r.status, r.body, tt.field)
			}
		}
		if n := h.countJobs(); n != jobsBefore {
			t.Errorf("%d jobs after refused requests, want %d", n, jobsBefore)
		}
	})

	t.Run("at the threshold: 200 with the result", func(t *testing.T) {
		missing := uuid.NewString()
		batch := append(append([]string{}, ids[:99]...), missing) // 100 ids
		r := h.do("POST", "/api/admin/bulk/status-update", ada.AccessToken,
			job.Request{Entity: "volunteers", IDs: batch, Status: "approved"}, "203.0.113.5")
		if r.status != http.StatusOK {
			t.Fatalf("status = %d %s, want 200", r.status, r.body)
		}
		var j jobView
		r.json(t, &j)
		if j.State != job.StateCompleted || j.Total != 100 || j.Succeeded != 99 || j.NotFound != 1 || len(j.Failures) != 1 || j.Failures[0].ID != missing {
			t.Fatalf("job = %+v", j)
		}
	})

	t.Run("above the threshold: 202 at once", func(t *testing.T) {
		r := h.do("POST", "/api/admin/bulk/delete", ada.AccessToken, job.Request{Entity: "volunteers", IDs: ids[:101]}, "203.0.113.5")
		if r.status != http.StatusAccepted {
			t.Fatalf("status = %d %s, want 202", r.status, r.body)
		}
		var a acceptedView
		r.json(t, &a)
		if a.Status != job.StateQueued || a.StatusURL != "/api/admin/jobs/"+a.JobID || r.header.Get("Location") != a.StatusURL {
			t.Fatalf("202 body = %s", r.body)
		}
		var j jobView
		testkit.Eventually(t, "job to complete", func() bool { j = h.job(ada.AccessToken, a.JobID); return j.State == job.StateCompleted })
		if j.Succeeded != 101 || j.Processed != 101 {
			t.Fatalf("job = %+v", j)
		}
		// A status update above the threshold answers with the job's
		// state, never the status it sets.
		r = h.do("POST", "/api/admin/bulk/status-update", ada.AccessToken, job.Request{Entity: "volunteers", IDs: ids[:120], Status: "rejected"}, "")
		var su acceptedView
		r.json(t, &su)
		if r.status != http.StatusAccepted || su.Status != job.StateQueued || su.StatusURL != "/api/admin/jobs/"+su.JobID {
			t.Fatalf("status update of 120 = %d %s, want 202 with the job queued", r.status, r.body)
		}
		testkit.Eventually(t, "status job to end", func() bool { return h.job(ada.AccessToken, su.JobID).State == job.StateCompleted })
		// Every affected id is audited, as the admin who asked, from her address.
		testkit.Eventually(t, "per-id audit", func() bool {
			return h.countAudit("entity = 'volunteers' AND action = 'bulk_delete' AND changes->>'job_id' = $1 AND actor_email = 'ada@example.org' AND client_ip = '203.0.113.5'", j.ID) == 101
		})
		// The running service logs the job as the seed's runbook greps for it.
		lines := logtest.Parse(t, h.logs.String())
		for _, msg := range []string{"BACKGROUND JOB started", "BACKGROUND JOB completed"} {
			found := logtest.Find(lines, msg, map[string]any{"job_id": j.ID, "kind": "bulk_delete", "entity": "volunteers"})
			if len(found) != 1 {
				t.Errorf("%d %q lines for job %s in the service log, want 1", len(found), msg, j.ID)
			}
		}
	})
}

func TestIntegrationBulkJobSurvivesKill(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.bootstrap("root@example.org")
	root := h.login("root@example.org", rootPassword, "")
	ctx := context.Background()

	// The owner crashes half-way through chunk 5 of 10.
	exec := h.executor(jobtest.Config{ChunkSize: 100, CrashAt: 5})
	ids, err := exec.Seed(ctx, "sessions", 1000)
	if err != nil {
		t.Fatal(err)
	}
	r := h.do("POST", "/api/admin/bulk/delete", root.AccessToken, job.Request{Entity: "sessions", IDs: ids}, "198.51.100.3")
	if r.status != http.StatusAccepted {
		t.Fatalf("bulk delete = %d %s", r.status, r.body)
	}
	var a acceptedView
	r.json(t, &a)
	j := jobView{ID: a.JobID}
	<-exec.Crashed()
	exec.Stop()

	// Half-way: five chunks applied, nothing of the sixth.
	var applied, twice int
	if err := h.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE applied > 0), count(*) FILTER (WHERE applied > 1) FROM exec.items`).Scan(&applied, &twice); err != nil {
		t.Fatal(err)
	}
	if applied != 500 || twice != 0 {
		t.Fatalf("after the crash: %d rows applied, %d twice; want 500, 0", applied, twice)
	}
	testkit.Eventually(t, "progress of the first chunks", func() bool { return h.job(root.AccessToken, j.ID).Processed == 500 })
	if got := h.job(root.AccessToken, j.ID); got.State != job.StateRunning {
		t.Fatalf("job after the crash = %+v", got)
	}

	// The admin service goes down too, and both come back.
	h.stop()
	h.start()
	exec = h.executor(jobtest.Config{ChunkSize: 100})
	t.Cleanup(exec.Stop)

	testkit.Eventually(t, "the job to complete after restart", func() bool { j = h.job(root.AccessToken, j.ID); return j.State == job.StateCompleted })
	if j.Total != 1000 || j.Processed != 1000 || j.Succeeded != 1000 || j.Failed != 0 {
		t.Fatalf("job = %+v", j)
	}
	if err := h.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE applied = 1), count(*) FILTER (WHERE applied <> 1) FROM exec.items`).Scan(&applied, &twice); err != nil {
		t.Fatal(err)
	}
	if applied != 1000 || twice != 0 {
		t.Fatalf("%d rows applied once, %d not exactly once", applied, twice)
	}
	testkit.Eventually(t, "one audit row per id", func() bool {
		return h.countAudit("entity = 'sessions' AND action = 'bulk_delete' AND changes->>'job_id' = $1", j.ID) == 1000
	})
	if n := h.countAudit("entity = 'sessions' AND action = 'bulk_delete' AND changes->>'job_id' = $1", j.ID) -
		h.countAudit("id IN (SELECT DISTINCT ON (entity_id) id FROM audit_log WHERE action = 'bulk_delete' AND changes->>'job_id' = $1)", j.ID); n != 0 {
		t.Fatalf("%d ids audited more than once", n)
	}

	// Exactly one admin.job.completed, with what the mailer needs.
	st, err := h.js.Stream(ctx, "ADMIN")
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "admin.job.completed", func() bool {
		info, err := st.Info(ctx, jetstream.WithSubjectFilter(job.TypeCompleted))
		return err == nil && info.State.Subjects[job.TypeCompleted] == 1
	})
	msg, err := st.GetLastMsgForSubject(ctx, job.TypeCompleted)
	if err != nil {
		t.Fatal(err)
	}
	var env struct{ Data events.JobCompleted }
	if err := json.Unmarshal(msg.Data, &env); err != nil {
		t.Fatal(err)
	}
	c := env.Data
	if c.JobID.String() != j.ID || c.AdminEmail != "root@example.org" || c.AdminName == "" || c.Entity != "sessions" ||
		c.Action != job.ActionDelete || c.Total != 1000 || c.Succeeded != 1000 || c.State != job.StateCompleted {
		t.Fatalf("admin.job.completed = %+v", c)
	}
	testkit.Eventually(t, "the job's own audit rows", func() bool {
		return h.countAudit("entity = 'bulk_job' AND entity_id = $1 AND action IN ('requested', 'completed')", j.ID) == 2
	})
}
