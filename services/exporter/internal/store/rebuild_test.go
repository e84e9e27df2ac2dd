package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/acube/platform/services/exporter/internal/audit"
	"github.com/acube/platform/services/exporter/internal/dbtest"
	"github.com/acube/platform/services/exporter/internal/store"
)

func indexes(t *testing.T, pool *pgxpool.Pool) map[string]string {
	t.Helper()
	rows, err := pool.Query(context.Background(),
		`SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'audit_log'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			t.Fatal(err)
		}
		out[name] = def
	}
	return out
}

// TestIntegrationRebuildMatchesMigrations swaps in a rebuilt projection and
// checks it has the rows given, and exactly the indexes the migrations make.
func TestIntegrationRebuildMatchesMigrations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	recs := seedAudit(t, pool)
	before := indexes(t, pool)
	st := store.New(pool)

	if err := st.StartRebuild(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st.InsertRebuild(ctx, recs[:4]); err != nil {
		t.Fatal(err)
	}
	err := st.SwapRebuild(ctx, func(ctx context.Context, insert store.InsertFunc) error {
		return insert(ctx, append(recs[3:], recs[0])) // duplicates are skipped
	})
	if err != nil {
		t.Fatalf("SwapRebuild: %v", err)
	}
	if diff := cmp.Diff(before, indexes(t, pool)); diff != "" {
		t.Errorf("indexes after rebuild differ from the migrations' (-want +got):\n%s", diff)
	}
	var got []string
	err = st.Stream(ctx, audit.Filter{}, func(int64) {}, func(c []string) error { got = append(got, strings.Join(c, "|")); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(recs) {
		t.Errorf("rebuilt projection has %d records, want %d", len(got), len(recs))
	}
}
