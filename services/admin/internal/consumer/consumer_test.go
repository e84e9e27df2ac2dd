package consumer_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/acube/platform/libs/consume"
	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/postgres"
	"github.com/acube/platform/libs/postgres/pgtest"
	"github.com/acube/platform/services/admin/internal/consumer"
	"github.com/acube/platform/services/admin/internal/job"
	"github.com/acube/platform/services/admin/internal/metrics"
	"github.com/acube/platform/services/admin/internal/migrations"
	"github.com/acube/platform/services/admin/internal/store"
)

func newPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	ctx := context.Background()
	pool, err := postgres.Open(ctx, postgres.Config{URL: pgtest.NewMigrated(t, "admin", migrations.Sets()...), Schema: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// apply runs h in a transaction, as the runner does: committed when h
// returns nil, rolled back otherwise.
func apply(t *testing.T, pool *pgxpool.Pool, h consume.Handler, ev events.Event) error {
	t.Helper()
	ctx := context.Background()
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		return h(ctx, tx, consume.Message{Event: ev, Subject: ev.Subject(), Delivery: 1})
	})
}

func auditEvent(t *testing.T, entity string) events.Event {
	t.Helper()
	ev, err := events.AuditRecord{ActorEmail: "root@example.com", Action: "create", Entity: entity, EntityID: "x",
		ClientIP: "127.0.0.1", OccurredAt: time.Now().UTC()}.Event("booking")
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestIntegrationAppendAudit(t *testing.T) {
	t.Parallel()
	pool := newPool(t)
	good := auditEvent(t, "sessions")
	bad := auditEvent(t, "sessions")
	bad.Data = json.RawMessage(`{"entity":"Not A Token","action":"create","occurred_at":"2030-01-01T00:00:00Z"}`)

	tests := []struct {
		name          string
		ev            events.Event
		wantPermanent bool
		wantRows      int
	}{
		{name: "appended", ev: good, wantRows: 1},
		{name: "a replay adds nothing", ev: good, wantRows: 1},
		{name: "a record breaking the contract is dead-lettered at once", ev: bad, wantPermanent: true, wantRows: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := apply(t, pool, consumer.AppendAudit, tt.ev)
			if got := consume.IsPermanent(err); got != tt.wantPermanent || (err != nil && !tt.wantPermanent) {
				t.Fatalf("AppendAudit = %v, permanent %v, want permanent %v", err, got, tt.wantPermanent)
			}
			var n int
			if err := pool.QueryRow(context.Background(), "SELECT count(*) FROM audit_log").Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != tt.wantRows {
				t.Errorf("audit_log holds %d rows, want %d", n, tt.wantRows)
			}
		})
	}
}

func TestIntegrationJobEvents(t *testing.T) {
	t.Parallel()
	pool := newPool(t)
	m, err := metrics.New(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	jobs := job.NewService(store.NewJobs(pool), m, 100, time.Now)
	s1, s2 := uuid.NewString(), uuid.NewString()
	j, err := jobs.Submit(context.Background(), job.Actor{ID: "a1", Email: "root@example.com", Name: "Root", ClientIP: "127.0.0.1"},
		job.ActionDelete, job.Request{Entity: "sessions", IDs: []string{s1, s2}}, "async")
	if err != nil {
		t.Fatal(err)
	}
	event := func(typ string, data any) events.Event {
		ev, err := events.New("booking", typ, data)
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	progress := event(job.TypeOwnerProgress, events.JobProgress{JobID: j.ID, Chunk: 1, Chunks: 1, Processed: 2, Succeeded: 2, SucceededIDs: []string{s1, s2}})

	tests := []struct {
		name          string
		ev            events.Event
		wantPermanent bool
		wantProcessed int
	}{
		{name: "progress counted", ev: progress, wantProcessed: 2},
		{name: "the same chunk reported again counts once", ev: event(job.TypeOwnerProgress, events.JobProgress{JobID: j.ID, Chunk: 1, Chunks: 1, Processed: 2, Succeeded: 2}), wantProcessed: 2},
		{name: "unknown job is dead-lettered at once", ev: event(job.TypeOwnerProgress, events.JobProgress{JobID: uuid.New(), Chunk: 1, Chunks: 1}), wantPermanent: true, wantProcessed: 2},
		{name: "unknown report type is dead-lettered at once", ev: event("booking.job.paused", map[string]string{"job_id": j.ID.String()}), wantPermanent: true, wantProcessed: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := apply(t, pool, consumer.JobEvents(jobs), tt.ev)
			if got := consume.IsPermanent(err); got != tt.wantPermanent || (err != nil && !tt.wantPermanent) {
				t.Fatalf("JobEvents = %v, permanent %v, want permanent %v", err, got, tt.wantPermanent)
			}
			got, err := jobs.Get(context.Background(), j.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Processed != tt.wantProcessed {
				t.Errorf("job processed %d, want %d", got.Processed, tt.wantProcessed)
			}
		})
	}
}
