package store_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/acube/platform/libs/postgres"
	"github.com/acube/platform/libs/postgres/pgtest"
	"github.com/acube/platform/services/booking/internal/booking"
	"github.com/acube/platform/services/booking/internal/migrations"
	"github.com/acube/platform/services/booking/internal/store"
)

func TestIdempotencyKeys(t *testing.T) {
	ctx := context.Background()
	pool, err := postgres.Open(ctx, postgres.Config{URL: pgtest.NewMigrated(t, "booking", migrations.Sets()...), Schema: "booking", MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	st := store.New(pool, store.Config{IdempotencyTTL: time.Hour})
	session := func() booking.Session {
		now := time.Now().UTC()
		return booking.Session{ID: uuid.New(), Email: "a@example.org", Name: "A", Phone: "1234567",
			SessionType: booking.Individual, PreferredDate: now.Truncate(24*time.Hour).AddDate(0, 0, 3),
			Status: booking.Pending, CreatedAt: now, UpdatedAt: now}
	}
	digest := func(key string) []byte {
		return booking.IdempotencyKey{Key: key, Route: "POST /book", Client: "192.0.2.1"}.Digest()
	}
	book := func(key string, hash []byte) (booking.Session, bool, error) {
		return st.BookSession(ctx, session(), booking.Idempotency{KeyDigest: digest(key), RequestHash: hash}, nil)
	}
	age := func(key string, d time.Duration) {
		if _, err := pool.Exec(ctx, `UPDATE idempotency_keys SET created_at = now() - make_interval(secs => $2) WHERE key_digest = $1`,
			digest(key), d.Seconds()); err != nil {
			t.Fatal(err)
		}
	}

	first, replayed, err := book("k1", []byte("same"))
	if err != nil || replayed {
		t.Fatalf("first booking: replayed %v, err %v", replayed, err)
	}
	tests := []struct {
		name       string
		age        time.Duration // how old k1 is made before the repeat
		hash       string
		wantSame   bool
		wantErr    error
		wantReplay bool
	}{
		{name: "repeat within the TTL returns the first booking", age: 59 * time.Minute, hash: "same", wantSame: true, wantReplay: true},
		{name: "other request under a live key is refused", age: 59 * time.Minute, hash: "other", wantErr: booking.ErrIdempotencyMismatch},
		{name: "expired key counts as new", age: 61 * time.Minute, hash: "other"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			age("k1", tc.age)
			got, replayed, err := book("k1", []byte(tc.hash))
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if replayed != tc.wantReplay || (got.ID == first.ID) != tc.wantSame {
				t.Errorf("got session %s replayed %v; first was %s, want same %v replayed %v",
					got.ID, replayed, first.ID, tc.wantSame, tc.wantReplay)
			}
		})
	}

	t.Run("purge deletes only expired keys", func(t *testing.T) {
		if _, _, err := book("k2", []byte("x")); err != nil {
			t.Fatal(err)
		}
		age("k1", 2*time.Hour)
		n, err := st.PurgeIdempotencyKeys(ctx)
		if err != nil || n != 1 {
			t.Fatalf("purged %d (%v), want 1", n, err)
		}
		rows, _ := pool.Query(ctx, `SELECT key_digest FROM idempotency_keys`)
		left, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
		if err != nil || len(left) != 1 || !bytes.Equal(left[0], digest("k2")) {
			t.Errorf("keys left %x (%v), want k2's digest", left, err)
		}
	})
}
