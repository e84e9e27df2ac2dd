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

// TestIntegrationClaimSerialisesRedeliveries checks the guarantee the
// handler relies on: a second claim of the same delivery waits for the
// first transaction and then sees its outcome.
func TestIntegrationClaimSerialisesRedeliveries(t *testing.T) {
	t.Parallel()
	pool, ctx := open(t)
	tests := []struct {
		name       string
		firstEnds  func(pgx.Tx) error
		wantSecond bool
	}{
		{name: "first commits: second finds the row", firstEnds: func(tx pgx.Tx) error { return tx.Commit(ctx) }, wantSecond: false},
		{name: "first rolls back: second claims", firstEnds: func(tx pgx.Tx) error { return tx.Rollback(ctx) }, wantSecond: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := store.Delivery{EventID: uuid.New(), Recipient: "User@Example.com", EventType: "booking.session.booked",
				Template: "session_confirmation", MessageID: "x@acube.local"}
			first, err := pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if ok, err := store.Claim(ctx, first, d); err != nil || !ok {
				t.Fatalf("first claim = %v, %v", ok, err)
			}
			type result struct {
				ok  bool
				err error
			}
			second := make(chan result, 1)
			go func() {
				d2 := d
				d2.Recipient = "user@example.com" // same mailbox, other spelling
				err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
					ok, err := store.Claim(ctx, tx, d2)
					second <- result{ok, err}
					return err
				})
				if err != nil {
					t.Error(err)
				}
			}()
			waitForLockWait(t, ctx, pool)
			select {
			case r := <-second:
				t.Fatalf("second claim returned %v before the first ended", r)
			default:
			}
			if err := tt.firstEnds(first); err != nil {
				t.Fatal(err)
			}
			if r := <-second; r.err != nil || r.ok != tt.wantSecond {
				t.Errorf("second claim = %v, %v; want %v", r.ok, r.err, tt.wantSecond)
			}
		})
	}
}

// waitForLockWait returns once some session of this database waits on a lock.
func waitForLockWait(t *testing.T, ctx context.Context, pool *pgxpool.Pool) {
	t.Helper()
	for {
		var n int
		err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatal("second claim never waited on the first")
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func TestIntegrationClaimCommitsAsynchronously(t *testing.T) {
	t.Parallel()
	pool, ctx := open(t)
	d := store.Delivery{EventID: uuid.New(), Recipient: "a@example.com", EventType: "t", Template: "welcome", MessageID: "m@x"}
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := store.Claim(ctx, tx, d); err != nil {
			return err
		}
		var mode string
		if err := tx.QueryRow(ctx, "SHOW synchronous_commit").Scan(&mode); err != nil {
			return err
		}
		if mode != "off" {
			t.Errorf("synchronous_commit = %s inside the claim's transaction, want off", mode)
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
	var key string
	if err := pool.QueryRow(ctx, `SELECT recipient FROM deliveries WHERE event_id = $1`, d.EventID).Scan(&key); err != nil || key != "a@example.com" {
		t.Errorf("row: %q, %v", key, err)
	}
}

// TestIntegrationClaimAllAndRelease checks a batch claim: rows present are
// reported as sent, the others are claimed, and released ones are gone
// once the transaction commits.
func TestIntegrationClaimAllAndRelease(t *testing.T) {
	t.Parallel()
	pool, ctx := open(t)
	delivery := func(to string) store.Delivery {
		return store.Delivery{EventID: uuid.New(), Recipient: to, EventType: "booking.session.booked",
			Template: "session_confirmation", MessageID: uuid.NewString() + "@acube.local"}
	}
	sent, fresh, refused := delivery("Sent@Example.com"), delivery("fresh@example.com"), delivery("refused@example.com")
	if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		_, err := store.Claim(ctx, tx, sent)
		return err
	}); err != nil {
		t.Fatal(err)
	}

	sentAgain := sent
	sentAgain.Recipient = "sent@example.com" // same mailbox, other spelling
	twice := delivery("twice@example.com")
	tests := []struct {
		name string
		ds   []store.Delivery
		want []bool
	}{
		{name: "one sent before, two new", ds: []store.Delivery{sentAgain, fresh, refused}, want: []bool{false, true, true}},
		{name: "the same delivery twice is claimed once", ds: []store.Delivery{twice, twice}, want: []bool{true, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
				got, err := store.ClaimAll(ctx, tx, tt.ds)
				if err != nil {
					return err
				}
				if !slices.Equal(got, tt.want) {
					t.Errorf("claimed %v, want %v", got, tt.want)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}

	// refused was claimed above and committed; release it in a new
	// transaction and check what stays.
	if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		return store.Release(ctx, tx, []store.Delivery{refused})
	}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		d    store.Delivery
		want int
	}{{sent, 1}, {fresh, 1}, {refused, 0}} {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM deliveries WHERE event_id = $1`, c.d.EventID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != c.want {
			t.Errorf("%s: %d rows, want %d", c.d.Recipient, n, c.want)
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
