package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/services/exporter/internal/audit"
	"github.com/acube/platform/services/exporter/internal/dbtest"
	"github.com/acube/platform/services/exporter/internal/export"
	"github.com/acube/platform/services/exporter/internal/store"
)

func newExport(t *testing.T, st *store.Store) export.Export {
	t.Helper()
	e := export.Export{
		ID:        uuid.Must(uuid.NewV7()),
		Admin:     export.Admin{ID: "a1", Email: "ann@example.org", Name: "Ann"},
		Filter:    audit.Filter{Admin: "a2", From: base, To: base.Add(time.Hour)},
		Status:    export.Queued,
		File:      export.NewFileName(),
		CreatedAt: time.Now().UTC().Truncate(time.Microsecond),
	}
	if err := st.Create(context.Background(), e, events.AuditRecord{ActorID: "a1", Action: "export", Entity: "audit_log"}); err != nil {
		t.Fatalf("Create: %v", err)
	}
	return e
}

func expireLease(t *testing.T, pool *pgxpool.Pool, id uuid.UUID) {
	t.Helper()
	if _, err := pool.Exec(context.Background(), `UPDATE exports SET lease_until = now() - interval '1 second' WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
}

func TestIntegrationExportLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	st := store.New(pool)
	e := newExport(t, st)

	got, err := st.Get(ctx, e.ID)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if diff := cmp.Diff(e, got); diff != "" {
		t.Errorf("stored export (-want +got):\n%s", diff)
	}
	if subjects := dbtest.OutboxSubjects(t, pool); !cmp.Equal(subjects, []string{export.TypeAuditRequested}) {
		t.Errorf("outbox = %v, want the audit event of the request", subjects)
	}

	claim := uuid.New()
	claimed, ok, err := st.Claim(ctx, claim, time.Minute)
	if err != nil || !ok {
		t.Fatalf("Claim = %v, %v", ok, err)
	}
	if claimed.ID != e.ID || claimed.Status != export.Running || claimed.Attempts != 1 || claimed.StartedAt.IsZero() {
		t.Errorf("claimed %+v, want the export running, attempt 1", claimed)
	}
	if _, ok, _ := st.Claim(ctx, uuid.New(), time.Minute); ok {
		t.Error("a held export was claimed twice")
	}
	if err := st.Heartbeat(ctx, e.ID, claim, 10, 4, time.Minute); err != nil {
		t.Fatalf("Heartbeat: %v", err)
	}
	if err := st.Heartbeat(ctx, e.ID, uuid.New(), 10, 4, time.Minute); !errors.Is(err, export.ErrLeaseLost) {
		t.Errorf("Heartbeat with a stranger's claim = %v, want ErrLeaseLost", err)
	}
	got, _ = st.Get(ctx, e.ID)
	if got.Progress() != 40 {
		t.Errorf("progress = %d, want 40", got.Progress())
	}

	done := export.Done{File: export.RunFile(e.File, claim), Rows: 10, Size: 123, FinishedAt: time.Now().UTC().Truncate(time.Microsecond)}
	done.ExpiresAt = done.FinishedAt.Add(time.Hour)
	if err := st.Complete(ctx, e.ID, claim, done, events.ExportCompleted{ExportID: e.ID}); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	got, _ = st.Get(ctx, e.ID)
	if got.Status != export.Completed || got.RowsTotal != 10 || got.Size != 123 || !got.ExpiresAt.Equal(done.ExpiresAt) || got.File != done.File {
		t.Errorf("after Complete: %+v, want the run's file %s", got, done.File)
	}
	if subjects := dbtest.OutboxSubjects(t, pool); !cmp.Equal(subjects, []string{export.TypeAuditRequested, export.TypeCompleted}) {
		t.Errorf("outbox = %v, want the completed event last", subjects)
	}

	due, err := st.Expired(ctx, done.ExpiresAt.Add(-time.Second), 10)
	if err != nil || len(due) != 0 {
		t.Errorf("Expired before expiry = %v, %v; want none", due, err)
	}
	due, _ = st.Expired(ctx, done.ExpiresAt, 10)
	if len(due) != 1 || due[0].ID != e.ID {
		t.Fatalf("Expired at expiry = %v, want the export", due)
	}
	if err := st.MarkPurged(ctx, e.ID, done.ExpiresAt); err != nil {
		t.Fatal(err)
	}
	if due, _ = st.Expired(ctx, done.ExpiresAt, 10); len(due) != 0 {
		t.Errorf("a purged export is still due: %v", due)
	}
}

func TestIntegrationClaimAfterCrash(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	st := store.New(pool)
	e := newExport(t, st)

	dead := uuid.New()
	if _, ok, _ := st.Claim(ctx, dead, time.Minute); !ok {
		t.Fatal("first claim failed")
	}
	expireLease(t, pool, e.ID) // the worker died and stopped renewing
	again := uuid.New()
	got, ok, err := st.Claim(ctx, again, time.Minute)
	if err != nil || !ok || got.ID != e.ID || got.Attempts != 2 {
		t.Fatalf("claim after lease expiry = %+v, %v, %v; want attempt 2", got, ok, err)
	}
	err = st.Complete(ctx, e.ID, dead, export.Done{File: export.RunFile(e.File, dead)}, events.ExportCompleted{})
	if !errors.Is(err, export.ErrLeaseLost) {
		t.Errorf("the dead worker's Complete = %v, want ErrLeaseLost", err)
	}
	if got, _ = st.Get(ctx, e.ID); got.File != e.File {
		t.Errorf("the dead worker's Complete recorded file %s", got.File)
	}
	if err := st.Release(ctx, e.ID, again, time.Now(), false); err != nil {
		t.Fatalf("Release: %v", err)
	}
	got, _ = st.Get(ctx, e.ID)
	if got.Status != export.Queued || got.Attempts != 1 {
		t.Errorf("after an uncounted release: status %s, attempts %d; want queued, 1", got.Status, got.Attempts)
	}
	// Released with a delay, it waits.
	c3 := uuid.New()
	if _, ok, _ := st.Claim(ctx, c3, time.Minute); !ok {
		t.Fatal("claim after release failed")
	}
	if err := st.Release(ctx, e.ID, c3, time.Now().Add(time.Hour), true); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := st.Claim(ctx, uuid.New(), time.Minute); ok {
		t.Error("an export released until later was claimed at once")
	}
}

func TestIntegrationFail(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	st := store.New(pool)
	e := newExport(t, st)
	claim := uuid.New()
	if _, ok, _ := st.Claim(ctx, claim, time.Minute); !ok {
		t.Fatal("claim failed")
	}
	if err := st.Fail(ctx, e.ID, claim, "disk full", time.Now(), export.FailedData{ExportID: e.ID, Error: "disk full"}); err != nil {
		t.Fatalf("Fail: %v", err)
	}
	got, _ := st.Get(ctx, e.ID)
	if got.Status != export.Failed || got.Error != "disk full" {
		t.Errorf("after Fail: status %s, error %q", got.Status, got.Error)
	}
	if subjects := dbtest.OutboxSubjects(t, pool); subjects[len(subjects)-1] != export.TypeFailed {
		t.Errorf("outbox = %v, want the failed event last", subjects)
	}
	if _, err := st.Get(ctx, uuid.New()); !errors.Is(err, export.ErrNotFound) {
		t.Errorf("Get unknown = %v, want ErrNotFound", err)
	}
}

// TestIntegrationListPages: the list is paged by (created_at, id), newest
// first, so exports created in the same microsecond are neither repeated
// nor skipped between pages, and expired exports are not listed.
func TestIntegrationListPages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	st := store.New(pool)
	same := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	var want []uuid.UUID // newest first
	for i := range 5 {
		e := newExport(t, st)
		at := same
		if i == 4 {
			at = same.Add(time.Second)
		}
		if _, err := pool.Exec(ctx, `UPDATE exports SET created_at = $2 WHERE id = $1`, e.ID, at); err != nil {
			t.Fatal(err)
		}
		want = append(want, e.ID)
	}
	expired := newExport(t, st)
	if _, err := pool.Exec(ctx, `UPDATE exports SET status = 'completed', expires_at = $2 WHERE id = $1`,
		expired.ID, same.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// Newest first: the one a second later, then the tied four by id, descending.
	want = append([]uuid.UUID{want[4]}, want[3], want[2], want[1], want[0])
	now := same.Add(2 * time.Hour)

	var got []uuid.UUID
	var after *export.Key
	for range 10 {
		page, err := st.List(ctx, after, now, 2)
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		for _, e := range page {
			got = append(got, e.ID)
		}
		if len(page) < 2 {
			break
		}
		k := page[len(page)-1].Key()
		after = &k
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("listed ids (-want +got):\n%s", diff)
	}
}
