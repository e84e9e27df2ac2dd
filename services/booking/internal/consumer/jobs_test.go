package consumer

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/acube/platform/libs/consume"
	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/managelink"
	"github.com/acube/platform/libs/natstest"
	"github.com/acube/platform/libs/objstore"
	"github.com/acube/platform/libs/objstore/objstoretest"
	"github.com/acube/platform/libs/outbox/outboxtest"
	"github.com/acube/platform/libs/postgres"
	"github.com/acube/platform/libs/postgres/pgtest"
	"github.com/acube/platform/libs/stream"
	"github.com/acube/platform/libs/testkit"
	"github.com/acube/platform/services/booking/internal/booking"
	"github.com/acube/platform/services/booking/internal/images"
	"github.com/acube/platform/services/booking/internal/migrations"
	"github.com/acube/platform/services/booking/internal/store"
)

type fixture struct {
	pool   *pgxpool.Pool
	store  *store.Store
	svc    *booking.Service
	log    *slog.Logger
	images *objstore.Bucket // the IMAGES bucket the service stores in
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	ctx := context.Background()
	pool, err := postgres.Open(ctx, postgres.Config{URL: pgtest.NewMigrated(t, "booking", migrations.Sets()...), Schema: "booking", MaxConns: 6})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	signer, err := managelink.NewSigner([]byte(strings.Repeat("s", 32)))
	if err != nil {
		t.Fatal(err)
	}
	bucket, _ := objstoretest.Start(t, stream.EventImages(1))
	imgs := images.New(bucket)
	st := store.New(pool, store.Config{})
	svc := booking.NewService(st, signer, imgs, time.Now, booking.Config{PublicBaseURL: "http://x.test", LinkTTL: time.Hour})
	return fixture{pool: pool, store: st, svc: svc, log: log, images: bucket}
}

// book makes n pending sessions and returns their ids.
func (f fixture) book(t *testing.T, n int) []string {
	t.Helper()
	ids := make([]string, 0, n)
	for range n {
		x, _, err := f.svc.Book(context.Background(), booking.BookRequest{Email: "b@example.org", Name: "B",
			Phone: "1234567", SessionType: "individual", PreferredDate: time.Now().AddDate(0, 0, 5).Format(time.DateOnly)}, booking.IdempotencyKey{})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, x.ID.String())
	}
	return ids
}

func (f fixture) outbox(t *testing.T, subject string) []events.Event {
	t.Helper()
	return outboxtest.Events(t, f.pool, subject)
}

func TestIntegrationJobResumesWithoutApplyingTwice(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ids := f.book(t, 5)
	// A completed session cannot be confirmed: its move is a failure.
	var done booking.Session
	for _, to := range []string{"confirmed", "completed"} {
		var err error
		done, err = f.svc.ChangeSessionStatus(ctx, booking.Actor{Email: "a@x.org"}, uuid.MustParse(ids[4]), to, "")
		if err != nil {
			t.Fatal(err)
		}
	}
	req := events.JobRequest{JobID: uuid.New(), Entity: "sessions", Action: "status_update", Status: "confirmed",
		IDs: append(ids, "not-a-uuid", uuid.NewString()), RequestedBy: events.JobActor{ID: "adm", Email: "a@x.org"}}

	// A crash after the first chunk: only chunk 0 committed.
	ran, err := f.store.JobChunk(ctx, req.JobID, 0, false, func(booking.JobTx, booking.JobTotals) (booking.JobTotals, error) {
		return booking.JobTotals{Processed: 99}, nil
	})
	if err != nil || !ran {
		t.Fatalf("chunk 0: %v %v", ran, err)
	}
	for range 2 { // the redelivery, and one more for good measure
		if _, err := f.svc.RunJob(ctx, req, 3, nil); err != nil {
			t.Fatal(err)
		}
	}
	progress := f.outbox(t, "booking.job.progress")
	if len(progress) != 2 {
		t.Fatalf("%d progress events, want 2 (chunks 1 and 2)", len(progress))
	}
	var p events.JobProgress
	if err := progress[0].UnmarshalData(&p); err != nil {
		t.Fatal(err)
	}
	if p.Chunk != 1 || p.Chunks != 3 || p.Processed != 3 || p.Succeeded != 1 || p.Failed != 2 ||
		len(p.Failures) != 1 || p.Failures[0].ID != done.ID.String() || len(p.NotFoundIDs) != 1 {
		t.Fatalf("chunk 1 progress %+v", p)
	}
	completed := f.outbox(t, "booking.job.completed")
	if len(completed) != 1 {
		t.Fatalf("%d completed events", len(completed))
	}
	var c events.JobOwnerCompleted
	if err := completed[0].UnmarshalData(&c); err != nil {
		t.Fatal(err)
	}
	if c.Chunks != 3 || c.Processed != 99+3+1 || c.Succeeded != 1 || c.Failed != 3 || c.Error != "" {
		t.Fatalf("completed %+v", c)
	}
	// Chunk 0 (ids 0-2) was "applied" by the fake: those stay pending.
	x, err := f.svc.Session(ctx, uuid.MustParse(ids[0]))
	if err != nil || x.Status != booking.Pending {
		t.Fatalf("session 0: %v %v", x.Status, err)
	}
	x, err = f.svc.Session(ctx, uuid.MustParse(ids[3]))
	if err != nil || x.Status != booking.Confirmed {
		t.Fatalf("session 3: %v %v", x.Status, err)
	}
}

func TestIntegrationJobRefusedWhole(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name      string
		req       events.JobRequest
		wantError string
	}{
		{name: "unknown entity", req: events.JobRequest{Entity: "admins", Action: "delete"}, wantError: "no bulk entity"},
		{name: "bad status", req: events.JobRequest{Entity: "sessions", Action: "status_update", Status: "gone"}, wantError: "not a session status"},
		{name: "events have no status", req: events.JobRequest{Entity: "events", Action: "status_update", Status: "x"}, wantError: "no status"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.JobID = uuid.New()
			tt.req.IDs = []string{uuid.NewString()}
			if _, err := f.svc.RunJob(context.Background(), tt.req, 10, nil); err != nil {
				t.Fatal(err)
			}
			evs := f.outbox(t, "booking.job.completed")
			var c events.JobOwnerCompleted
			if err := evs[i].UnmarshalData(&c); err != nil {
				t.Fatal(err)
			}
			if c.JobID != tt.req.JobID || c.Chunks != 0 || !strings.Contains(c.Error, tt.wantError) {
				t.Fatalf("completed %+v", c)
			}
		})
	}
}

// runJobs runs the real job consumer, logging to log, over a NATS server
// of its own with the ADMIN stream declared. publish sends a job request
// on the stream as the admin service does; stop stops the consumer and
// returns what its Run returned (the test's end stops it too).
func (f fixture) runJobs(t *testing.T, log *slog.Logger, cfg JobsConfig) (publish func(events.JobRequest), stop func() error) {
	t.Helper()
	ns := natstest.Start(t)
	nc, js, err := stream.Connect(ns.URL(), "test", f.log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if _, err := stream.Ensure(context.Background(), js, stream.Admin(1)); err != nil {
		t.Fatal(err)
	}
	m, err := consume.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewJobs(f.pool, js, m, log, f.svc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	task := testkit.Go(t, "the job consumer", r.Run)
	publish = func(req events.JobRequest) {
		t.Helper()
		ev, err := events.New("admin", JobsSubject, req)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := js.Publish(context.Background(), JobsSubject, raw); err != nil {
			t.Fatal(err)
		}
	}
	return publish, task.Stop
}

// TestIntegrationJobConsumer runs the real consumer: a delete job
// published on ADMIN is carried out and reported.
func TestIntegrationJobConsumer(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	publish, stop := f.runJobs(t, f.log, JobsConfig{ChunkSize: 2})
	ids := f.book(t, 3)
	publish(events.JobRequest{JobID: uuid.New(), Entity: "sessions", Action: "delete", IDs: ids})
	testkit.Eventually(t, "booking.job.completed in the outbox", func() bool { return len(f.outbox(t, "booking.job.completed")) > 0 })
	if n := len(f.outbox(t, "booking.job.progress")); n != 2 {
		t.Fatalf("%d progress events, want 2", n)
	}
	if n := len(f.outbox(t, "booking.session.deleted")); n != 3 {
		t.Fatalf("%d deleted events, want 3", n)
	}
	var left int
	if err := f.pool.QueryRow(ctx, `SELECT count(*) FROM sessions`).Scan(&left); err != nil || left != 0 {
		t.Fatalf("%d sessions left (%v)", left, err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// TestIntegrationDeletedEventsImageIsRemoved: a bulk delete of events
// deletes their images from the bucket too; an event kept keeps its own.
func TestIntegrationDeletedEventsImageIsRemoved(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	admin := booking.Actor{ID: "adm", Email: "a@x.org"}
	start := time.Now().Add(48 * time.Hour).UTC()
	pic := []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;")
	var ids []uuid.UUID
	for _, title := range []string{"Deleted", "Kept"} {
		e, err := f.svc.CreateEvent(ctx, admin, booking.EventRequest{Title: title, Location: "Hall",
			StartsAt: start.Format(time.RFC3339), EndsAt: start.Add(time.Hour).Format(time.RFC3339), Capacity: 5})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.SetEventImage(ctx, admin, e.ID, pic, "image/gif"); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	req := events.JobRequest{JobID: uuid.New(), Entity: booking.BulkEvents, Action: booking.JobDelete,
		IDs: []string{ids[0].String()}, RequestedBy: events.JobActor{ID: "adm", Email: "a@x.org"}}
	if _, err := f.svc.RunJob(ctx, req, 10, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := f.images.Stat(ctx, ids[0].String()); !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("image of the deleted event: %v, want ErrNotFound", err)
	}
	if info, err := f.images.Stat(ctx, ids[1].String()); err != nil || info.ContentType != "image/gif" {
		t.Errorf("image of the kept event: %+v, %v", info, err)
	}
}
