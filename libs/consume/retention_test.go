package consume_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/acube/platform/libs/consume"
	"github.com/acube/platform/libs/testkit"
)

// TestInboxRetention: a runner deletes its own consumed_events rows once
// they are older than its stream's MaxAge (1h here) plus a day, and leaves
// newer rows and other consumers' rows alone.
func TestInboxRetention(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	rows := []struct {
		consumer string
		age      time.Duration
		kept     bool
	}{
		{consumer: "tester", age: 26 * time.Hour, kept: false},
		{consumer: "tester", age: 24 * time.Hour, kept: true}, // inside MaxAge + a day
		{consumer: "tester", age: 0, kept: true},
		{consumer: "other", age: 48 * time.Hour, kept: true}, // not this runner's
	}
	ids := make([]uuid.UUID, len(rows))
	for i, r := range rows {
		ids[i] = uuid.New()
		if _, err := e.pool.Exec(ctx, `INSERT INTO consumed_events (consumer, event_id, consumed_at)
			VALUES ($1, $2, now() - make_interval(secs => $3))`, r.consumer, ids[i], r.age.Seconds()); err != nil {
			t.Fatal(err)
		}
	}
	e.run(t, consume.Config{}, nil)

	left := func() map[uuid.UUID]bool {
		q, _ := e.pool.Query(ctx, `SELECT event_id FROM consumed_events`)
		got, err := pgx.CollectRows(q, pgx.RowTo[uuid.UUID])
		if err != nil {
			t.Fatal(err)
		}
		m := make(map[uuid.UUID]bool, len(got))
		for _, id := range got {
			m[id] = true
		}
		return m
	}
	testkit.Eventually(t, "the expired row purged", func() bool { return !left()[ids[0]] })
	got := left()
	for i, r := range rows {
		if got[ids[i]] != r.kept {
			t.Errorf("row of %s aged %s: kept %v, want %v", r.consumer, r.age, got[ids[i]], r.kept)
		}
	}
}
