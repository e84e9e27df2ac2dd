package store_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/acube/platform/libs/postgres"
	"github.com/acube/platform/libs/postgres/pgtest"
	"github.com/acube/platform/services/mailer/internal/migrations"
	"github.com/acube/platform/services/mailer/internal/store"
)

func open(t *testing.T) (*pgxpool.Pool, context.Context) {
	t.Helper()
	url := pgtest.NewMigrated(t, "mailer", migrations.Sets()...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	pool, err := postgres.Open(ctx, postgres.Config{URL: url, Schema: "mailer"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool, ctx
}

func TestIntegrationRecordCommitsAsynchronously(t *testing.T) {
	t.Parallel()
	pool, ctx := open(t)
	d := store.Delivery{EventID: uuid.New(), Recipient: "a@example.com", EventType: "t", Template: "welcome", MessageID: "m@x"}
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		store.Record(b, []store.Delivery{d})
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		var mode string
		if err := tx.QueryRow(ctx, "SHOW synchronous_commit").Scan(&mode); err != nil {
			return err
		}
		if mode != "off" {
			t.Errorf("synchronous_commit = %s inside the record's transaction, want off", mode)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var mode string
	if err := pool.QueryRow(ctx, "SHOW synchronous_commit").Scan(&mode); err != nil || mode != "on" {
		t.Errorf("synchronous_commit = %s (%v) outside it, want on: the setting must stay local", mode, err)
	}
}

// TestIntegrationRecord checks that a record is one row per event and
// mailbox, however often and however spelled it is written.
func TestIntegrationRecord(t *testing.T) {
	t.Parallel()
	pool, ctx := open(t)
	delivery := func(to string) store.Delivery {
		return store.Delivery{EventID: uuid.New(), Recipient: to, EventType: "booking.session.booked",
			Template: "session_confirmation", MessageID: uuid.NewString() + "@acube.local"}
	}
	before, fresh := delivery("Sent@Example.com"), delivery("fresh@example.com")
	beforeAgain := before
	beforeAgain.Recipient = "sent@example.com" // same mailbox, other spelling
	twice := delivery("twice@example.com")
	tests := []struct {
		name string
		ds   []store.Delivery
	}{
		{name: "first record", ds: []store.Delivery{before}},
		{name: "one recorded before, one new", ds: []store.Delivery{beforeAgain, fresh}},
		{name: "the same delivery twice", ds: []store.Delivery{twice, twice}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &pgx.Batch{}
			store.Record(b, tt.ds)
			if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return tx.SendBatch(ctx, b).Close() }); err != nil {
				t.Fatal(err)
			}
		})
	}
	for _, c := range []struct {
		d       store.Delivery
		wantKey string
	}{{before, "sent@example.com"}, {fresh, "fresh@example.com"}, {twice, "twice@example.com"}} {
		rows, _ := pool.Query(ctx, `SELECT recipient FROM deliveries WHERE event_id = $1`, c.d.EventID)
		keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(keys, []string{c.wantKey}) {
			t.Errorf("%s: rows %v, want [%s]", c.d.Recipient, keys, c.wantKey)
		}
	}
}

// TestIntegrationPurge deletes records older than the retention only.
func TestIntegrationPurge(t *testing.T) {
	t.Parallel()
	pool, ctx := open(t)
	ages := []time.Duration{0, 29 * 24 * time.Hour, 31 * 24 * time.Hour, 400 * 24 * time.Hour}
	for _, age := range ages {
		if _, err := pool.Exec(ctx, `INSERT INTO deliveries (event_id, recipient, event_type, template, message_id, sent_at)
			VALUES ($1, 'a@example.org', 't', 't', 'm', now() - make_interval(secs => $2))`, uuid.New(), age.Seconds()); err != nil {
			t.Fatal(err)
		}
	}
	n, err := store.Purge(ctx, pool, 30*24*time.Hour)
	if err != nil || n != 2 {
		t.Fatalf("purged %d (%v), want the 2 older than 30 days", n, err)
	}
	var left int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM deliveries`).Scan(&left); err != nil || left != 2 {
		t.Errorf("%d rows left (%v), want 2", left, err)
	}
}

// TestIntegrationClaimAckIsSharedAndRaceFree claims 24 acknowledgements to
// one address at once from two pools, as two replicas would: exactly the
// limit's 3 get a place, and claiming them again changes nothing.
func TestIntegrationClaimAckIsSharedAndRaceFree(t *testing.T) {
	t.Parallel()
	pool, ctx := open(t)
	other, err := pgxpool.NewWithConfig(ctx, pool.Config()) // the same settings, schema included
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(other.Close)
	limit := store.Limit{Max: 3, Window: time.Hour}
	ids := make([]uuid.UUID, 24)
	for i := range ids {
		ids[i] = uuid.New()
	}
	claim := func(ids []uuid.UUID) []uuid.UUID {
		type result struct {
			id  uuid.UUID
			ok  bool
			err error
		}
		results := make(chan result, len(ids))
		for i, id := range ids {
			p := []*pgxpool.Pool{pool, other}[i%2]
			go func() {
				ok, err := store.ClaimAck(ctx, p, "Flood@Example.com", id, limit)
				results <- result{id, ok, err}
			}()
		}
		var won []uuid.UUID
		for range ids {
			r := <-results
			if r.err != nil {
				t.Fatal(r.err)
			}
			if r.ok {
				won = append(won, r.id)
			}
		}
		return won
	}
	won := claim(ids)
	if len(won) != limit.Max {
		t.Fatalf("%d claims won, want %d", len(won), limit.Max)
	}
	again := claim(ids) // every event redelivered
	slices.SortFunc(won, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	slices.SortFunc(again, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	if !slices.Equal(won, again) {
		t.Errorf("redelivered: %v won, want the same %v", again, won)
	}
	if ok, err := store.ClaimAck(ctx, pool, "flood@example.com", uuid.New(), store.Limit{}); err != nil || !ok {
		t.Errorf("no limit: %v, %v; want allowed", ok, err)
	}
}

// TestIntegrationPurgeAcks deletes the rows of recipients idle for a window
// and keeps the others.
func TestIntegrationPurgeAcks(t *testing.T) {
	t.Parallel()
	pool, ctx := open(t)
	limit := store.Limit{Max: 3, Window: time.Hour}
	for _, to := range []string{"idle@example.com", "busy@example.com"} {
		if _, err := store.ClaimAck(ctx, pool, to, uuid.New(), limit); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pool.Exec(ctx, `UPDATE recipient_acks SET updated_at = now() - interval '2 hours' WHERE recipient = $1`,
		store.RecipientHash("idle@example.com")); err != nil {
		t.Fatal(err)
	}
	n, err := store.PurgeAcks(ctx, pool, limit.Window)
	if err != nil || n != 1 {
		t.Errorf("purged %d (%v), want 1", n, err)
	}
}
