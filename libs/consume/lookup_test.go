package consume_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/acube/platform/libs/consume"
	"github.com/acube/platform/libs/postgres"
	"github.com/acube/platform/libs/postgres/pgtest"
)

// TestIntegrationLookupStaysKeyProbes: pgx prepares the duplicate lookup
// once per connection, and after five runs Postgres may keep one generic
// plan, made from whatever statistics the inbox had then. Planned on a
// small inbox never analyzed, the lookup must still probe the primary key
// per id once the inbox holds 40,000 rows, not read them all: the plan is
// forced generic here and the rows it filters out are counted.
func TestIntegrationLookupStaysKeyProbes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := postgres.Open(ctx, postgres.Config{URL: pgtest.NewDatabase(t), Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := postgres.Migrate(ctx, pool, schema, slog.New(slog.NewJSONHandler(io.Discard, nil)), consume.Migrations()); err != nil {
		t.Fatal(err)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := conn.Hijack() // its session settings stay with it
	t.Cleanup(func() { c.Close(ctx) })

	fill := func(n int) {
		t.Helper()
		if _, err := c.Exec(ctx, `INSERT INTO consumed_events (consumer, event_id)
SELECT 'mailer-booking', gen_random_uuid() FROM generate_series(1, $1)`, n); err != nil {
			t.Fatal(err)
		}
	}
	fill(200)
	for _, q := range []string{
		"SET plan_cache_mode = force_generic_plan",
		"PREPARE lookup(text, uuid[]) AS " + consume.LookupEvents,
		// the generic plan is made, and kept, at the first run
		"EXECUTE lookup('mailer-booking', '{" + uuid.NewString() + "}')",
	} {
		if _, err := c.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	fill(40000)
	var known uuid.UUID
	if err := c.QueryRow(ctx, `SELECT event_id FROM consumed_events LIMIT 1`).Scan(&known); err != nil {
		t.Fatal(err)
	}
	ids := []string{known.String()}
	for range 31 {
		ids = append(ids, uuid.NewString())
	}
	var out []byte
	explain := fmt.Sprintf("EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE lookup('mailer-booking', '{%s}')", strings.Join(ids, ","))
	if err := c.QueryRow(ctx, explain).Scan(&out); err != nil {
		t.Fatal(err)
	}
	var plans []struct {
		Plan planNode `json:"Plan"`
	}
	if err := json.Unmarshal(out, &plans); err != nil || len(plans) != 1 {
		t.Fatalf("EXPLAIN output %s: %v", out, err)
	}
	if got := plans[0].Plan.ActualRows; got != 1 {
		t.Errorf("the lookup found %v of the ids, want the one applied", got)
	}
	if removed := plans[0].Plan.removed(); removed > 100 {
		t.Errorf("the cached plan read and dropped %v rows to look up 32 ids: it does not probe the key\n%s", removed, out)
	}
}

// planNode is what the test reads of an EXPLAIN (FORMAT JSON) node.
type planNode struct {
	ActualRows float64    `json:"Actual Rows"`
	Removed    float64    `json:"Rows Removed by Filter"`
	Loops      float64    `json:"Actual Loops"`
	Plans      []planNode `json:"Plans"`
}

// removed is the rows the node and those under it dropped by filter, over
// all their loops.
func (n planNode) removed() float64 {
	total := n.Removed * max(n.Loops, 1)
	for _, p := range n.Plans {
		total += p.removed()
	}
	return total
}
