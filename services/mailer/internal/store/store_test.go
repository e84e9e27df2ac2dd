package store_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/acube/platform/libs/postgres"
	"github.com/acube/platform/libs/postgres/pgtest"
	"github.com/acube/platform/services/mailer/internal/store"
)

func open(t *testing.T) (*pgxpool.Pool, context.Context) {
	t.Helper()
	url := pgtest.NewDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	pool, err := postgres.Open(ctx, postgres.Config{URL: url, Schema: "mailer"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := postgres.Migrate(ctx, pool, "mailer", slog.New(slog.NewJSONHandler(io.Discard, nil)), store.Migrations()); err != nil {
		t.Fatal(err)
	}
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
