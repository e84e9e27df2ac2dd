package store_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/managelink"
	"github.com/acube/platform/libs/outbox/outboxtest"
	"github.com/acube/platform/libs/postgres"
	"github.com/acube/platform/libs/postgres/pgtest"
	"github.com/acube/platform/services/booking/internal/booking"
	"github.com/acube/platform/services/booking/internal/migrations"
	"github.com/acube/platform/services/booking/internal/store"
)

// bulkFixture is the booking service over the real store of a fresh
// database, for the bulk jobs the admin service sends.
type bulkFixture struct {
	pool *pgxpool.Pool
	st   *store.Store
	svc  *booking.Service
}

func newBulkFixture(t *testing.T) bulkFixture {
	t.Helper()
	ctx := context.Background()
	pool, err := postgres.Open(ctx, postgres.Config{URL: pgtest.NewMigrated(t, "booking", migrations.Sets()...), Schema: "booking", MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	signer, err := managelink.NewSigner([]byte(strings.Repeat("s", 32)))
	if err != nil {
		t.Fatal(err)
	}
	st := store.New(pool, store.Config{IdempotencyTTL: time.Hour})
	// Volunteers and contact messages have no images: the store of event
	// images is never reached.
	svc := booking.NewService(st, signer, nil, time.Now, booking.Config{PublicBaseURL: "http://x.test", LinkTTL: time.Hour})
	return bulkFixture{pool: pool, st: st, svc: svc}
}

// volunteers stores n applications and returns their ids.
func (f bulkFixture) volunteers(t *testing.T, n int) []string {
	t.Helper()
	var ids []string
	for range n {
		v, err := f.svc.Apply(context.Background(), booking.VolunteerRequest{Email: "v@example.org", Name: "V"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, v.ID.String())
	}
	return ids
}

// contacts stores n contact messages and returns their ids.
func (f bulkFixture) contacts(t *testing.T, n int) []string {
	t.Helper()
	var ids []string
	for range n {
		c, err := f.svc.Contact(context.Background(), booking.ContactRequest{Email: "c@example.org", Name: "C", Message: "hello"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID.String())
	}
	return ids
}

// statuses maps the ids of table's rows to their status and reason.
func (f bulkFixture) statuses(t *testing.T, table string) map[string]string {
	t.Helper()
	rows, err := f.pool.Query(context.Background(), `SELECT id::text, status || '/' || status_reason FROM `+table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, s string
		if err := rows.Scan(&id, &s); err != nil {
			t.Fatal(err)
		}
		out[id] = s
	}
	return out
}

// outbox decodes the events of subject in the outbox, oldest first.
func (f bulkFixture) outbox(t *testing.T, subject string) []events.Event {
	t.Helper()
	return outboxtest.Events(t, f.pool, subject)
}

// progress decodes the booking.job.progress events.
func (f bulkFixture) progress(t *testing.T) []events.JobProgress {
	t.Helper()
	var out []events.JobProgress
	for _, ev := range f.outbox(t, events.TypeJobProgress) {
		var p events.JobProgress
		if err := ev.UnmarshalData(&p); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

// TestIntegrationBulkStatusUpdate runs the admin service's bulk status
// update of volunteer applications and contact messages through the
// chunk transaction's UpdateVolunteer and UpdateContact: every existing
// row moves (a row already there counts as done and announces nothing),
// ids that name no row are reported not found, and each moved row's
// status_changed event is written with its chunk's progress.
func TestIntegrationBulkStatusUpdate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, entity, table, status, changed string
		make                                 func(bulkFixture, *testing.T, int) []string
		// already moves the first row to status before the job.
		already func(bulkFixture, uuid.UUID) error
	}{
		{name: "volunteers", entity: booking.BulkVolunteers, table: "volunteers", status: booking.VolunteerApproved,
			changed: booking.TypeVolunteerStatus, make: bulkFixture.volunteers,
			already: func(f bulkFixture, id uuid.UUID) error {
				_, err := f.svc.SetVolunteerStatus(context.Background(), booking.Actor{Email: "a@x.org"}, id, booking.VolunteerApproved, "")
				return err
			}},
		{name: "contact messages", entity: booking.BulkContact, table: "contacts", status: booking.ContactArchived,
			changed: booking.TypeContactStatus, make: bulkFixture.contacts,
			already: func(f bulkFixture, id uuid.UUID) error {
				_, err := f.svc.SetContactStatus(context.Background(), booking.Actor{Email: "a@x.org"}, id, booking.ContactArchived, "")
				return err
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := newBulkFixture(t)
			ids := tt.make(f, t, 4)
			if err := tt.already(f, uuid.MustParse(ids[0])); err != nil {
				t.Fatal(err)
			}
			before := len(f.outbox(t, tt.changed))
			missing := uuid.NewString()
			req := events.JobRequest{JobID: uuid.New(), Entity: tt.entity, Action: booking.JobStatusUpdate, Status: tt.status,
				IDs: append(slices.Clone(ids), "not-a-uuid", missing), RequestedBy: events.JobActor{ID: "adm", Email: "bulk@x.org"}}
			var seen []booking.JobRun
			run, err := f.svc.RunJob(ctx, req, 4, func(r booking.JobRun) { seen = append(seen, r) })
			if err != nil {
				t.Fatalf("RunJob: %v", err)
			}
			want := booking.JobTotals{Processed: 6, Succeeded: 4, Failed: 2}
			if run.Chunks != 2 || run.Done != 2 || run.Skipped != 0 || run.Totals != want || len(seen) != 2 {
				t.Errorf("RunJob = %+v after %d progress calls, want 2 chunks with totals %+v", run, len(seen), want)
			}
			got := f.statuses(t, tt.table)
			for _, id := range ids {
				if got[id] != tt.status+"/" {
					t.Errorf("%s %s is %q after the job, want %s", tt.entity, id, got[id], tt.status)
				}
			}
			changed := f.outbox(t, tt.changed)[before:]
			if len(changed) != 3 {
				t.Fatalf("%d %s events, want 3 (the row already there announces nothing)", len(changed), tt.changed)
			}
			for i, ev := range changed {
				var data map[string]any
				if err := ev.UnmarshalData(&data); err != nil {
					t.Fatal(err)
				}
				if data["id"] != ids[i+1] || data["status"] != tt.status || data["changed_by"] != "bulk@x.org" {
					t.Errorf("event %d: %v, want %s moved to %s by the job's requester", i, data, ids[i+1], tt.status)
				}
			}
			p := f.progress(t)
			if len(p) != 2 {
				t.Fatalf("%d progress events, want one per chunk", len(p))
			}
			if !slices.Equal(p[0].SucceededIDs, ids) || p[0].Succeeded != 4 || p[0].Failed != 0 {
				t.Errorf("chunk 0 progress %+v, want the 4 rows succeeded", p[0])
			}
			if !slices.Equal(p[1].NotFoundIDs, []string{"not-a-uuid", missing}) || p[1].Failed != 2 || p[1].Succeeded != 0 {
				t.Errorf("chunk 1 progress %+v, want the 2 unknown ids not found", p[1])
			}
			completed := f.outbox(t, events.TypeJobOwnerCompleted)
			if len(completed) != 1 {
				t.Fatalf("%d completed events, want 1", len(completed))
			}
			var c events.JobOwnerCompleted
			if err := completed[0].UnmarshalData(&c); err != nil {
				t.Fatal(err)
			}
			if c.Chunks != 2 || c.Processed != 6 || c.Succeeded != 4 || c.Failed != 2 || c.Error != "" {
				t.Errorf("completed %+v", c)
			}

			// A redelivery finds both chunks committed and changes nothing.
			again, err := f.svc.RunJob(ctx, req, 4, nil)
			if err != nil || again.Skipped != 2 {
				t.Errorf("second RunJob = %+v, %v; want both chunks skipped", again, err)
			}
			if n := len(f.outbox(t, tt.changed)) - before; n != 3 {
				t.Errorf("%d status events after the redelivery, want still 3", n)
			}
		})
	}
}

// TestIntegrationBulkDelete removes volunteer applications and contact
// messages in one chunk transaction each and announces every deletion.
func TestIntegrationBulkDelete(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, entity, table, deleted string
		make                         func(bulkFixture, *testing.T, int) []string
	}{
		{name: "volunteers", entity: booking.BulkVolunteers, table: "volunteers", deleted: booking.TypeVolunteerDeleted, make: bulkFixture.volunteers},
		{name: "contact messages", entity: booking.BulkContact, table: "contacts", deleted: booking.TypeContactDeleted, make: bulkFixture.contacts},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newBulkFixture(t)
			ids := tt.make(f, t, 3)
			req := events.JobRequest{JobID: uuid.New(), Entity: tt.entity, Action: booking.JobDelete,
				IDs: []string{ids[0], ids[2], uuid.NewString()}, RequestedBy: events.JobActor{ID: "adm", Email: "bulk@x.org"}}
			run, err := f.svc.RunJob(context.Background(), req, 100, nil)
			if err != nil {
				t.Fatalf("RunJob: %v", err)
			}
			if want := (booking.JobTotals{Processed: 3, Succeeded: 2, Failed: 1}); run.Totals != want {
				t.Errorf("totals %+v, want %+v", run.Totals, want)
			}
			left := f.statuses(t, tt.table)
			if _, ok := left[ids[1]]; len(left) != 1 || !ok {
				t.Errorf("rows left %v, want only %s", left, ids[1])
			}
			if n := len(f.outbox(t, tt.deleted)); n != 2 {
				t.Errorf("%d %s events, want 2", n, tt.deleted)
			}
		})
	}
}

// TestIntegrationBulkJobRefused: a status the entity does not have is
// refused whole, with a completion that says why and no chunk run.
func TestIntegrationBulkJobRefused(t *testing.T) {
	t.Parallel()
	f := newBulkFixture(t)
	tests := []struct {
		name, entity, action, status, want string
	}{
		{name: "volunteer status", entity: booking.BulkVolunteers, action: booking.JobStatusUpdate, status: "confirmed", want: "volunteer application status"},
		{name: "contact status", entity: booking.BulkContact, action: booking.JobStatusUpdate, status: "approved", want: "contact message status"},
		{name: "event status", entity: booking.BulkEvents, action: booking.JobStatusUpdate, status: "x", want: "no status"},
		{name: "unknown action", entity: booking.BulkContact, action: "archive", want: "unknown action"},
		{name: "unknown entity", entity: "payments", action: booking.JobDelete, want: "no bulk entity"},
	}
	ids := f.volunteers(t, 1)
	for i, tt := range tests {
		req := events.JobRequest{JobID: uuid.New(), Entity: tt.entity, Action: tt.action, Status: tt.status, IDs: ids}
		run, err := f.svc.RunJob(context.Background(), req, 10, nil)
		if err != nil || !strings.Contains(run.Refused, tt.want) || run.Chunks != 0 {
			t.Errorf("%s: RunJob = %+v, %v; want refused with %q", tt.name, run, err, tt.want)
		}
		completed := f.outbox(t, events.TypeJobOwnerCompleted)
		if len(completed) != i+1 {
			t.Fatalf("%s: %d completed events, want %d", tt.name, len(completed), i+1)
		}
		var c events.JobOwnerCompleted
		if err := completed[i].UnmarshalData(&c); err != nil {
			t.Fatal(err)
		}
		if c.JobID != req.JobID || !strings.Contains(c.Error, tt.want) {
			t.Errorf("%s: completed %+v, want the refusal", tt.name, c)
		}
	}
	if got := f.statuses(t, "volunteers")[ids[0]]; got != booking.VolunteerPending+"/" {
		t.Errorf("the application is %q after refused jobs, want untouched", got)
	}
}
