package keyset_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/acube/platform/libs/keyset"
	"github.com/acube/platform/libs/postgres/pgtest"
)

// TestIntegrationPagingWithTies pages a timestamptz-keyed table, as every
// list does, through cursors that went through Encode and Parse: with
// most rows on one microsecond and others a microsecond apart, each row
// comes exactly once and in order, in both directions, so a cursor's
// microseconds compare exactly with the column's.
func TestIntegrationPagingWithTies(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	if _, err := conn.Exec(ctx, `CREATE TABLE items (at timestamptz NOT NULL, id uuid PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	// Nanoseconds that the column drops, as when a service stamps a row
	// with time.Now().
	base := time.Date(2030, 5, 6, 7, 8, 9, 123456789, time.UTC)
	ats := []time.Time{base.Add(-time.Microsecond), base.Add(time.Microsecond)}
	for range 7 {
		ats = append(ats, base)
	}
	for _, at := range ats {
		if _, err := conn.Exec(ctx, `INSERT INTO items VALUES ($1, $2)`, at, uuid.New()); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name  string
		order string
		cmp   string
	}{
		{name: "oldest first", order: "ASC", cmp: ">"},
		{name: "newest first", order: "DESC", cmp: "<"},
	}
	for _, tt := range tests {
		for _, limit := range []int{1, 2, 3, len(ats)} {
			t.Run(fmt.Sprintf("%s by %d", tt.name, limit), func(t *testing.T) {
				want := ids(t, conn, `SELECT at, id FROM items ORDER BY at `+tt.order+`, id `+tt.order)
				q := `SELECT at, id FROM items WHERE $1::timestamptz IS NULL OR (at, id) ` + tt.cmp + ` ($1, $2)
ORDER BY at ` + tt.order + `, id ` + tt.order + ` LIMIT $3`
				var got []uuid.UUID
				var after *keyset.Cursor
				for range len(ats) + 1 {
					var at *time.Time
					var id *uuid.UUID
					if after != nil {
						at, id = &after.At, &after.ID
					}
					page := keys(t, conn, q, at, id, limit)
					for _, c := range page {
						got = append(got, c.ID)
					}
					if len(page) < limit {
						break
					}
					c, err := keyset.Parse(page[len(page)-1].Encode())
					if err != nil {
						t.Fatal(err)
					}
					after = &c
				}
				if !slices.Equal(got, want) {
					t.Fatalf("paged ids %v, want %v", got, want)
				}
			})
		}
	}
}

func keys(t *testing.T, conn *pgx.Conn, q string, args ...any) []keyset.Cursor {
	t.Helper()
	rows, _ := conn.Query(context.Background(), q, args...)
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (keyset.Cursor, error) {
		var c keyset.Cursor
		err := r.Scan(&c.At, &c.ID)
		return c, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return list
}

func ids(t *testing.T, conn *pgx.Conn, q string) []uuid.UUID {
	t.Helper()
	var out []uuid.UUID
	for _, c := range keys(t, conn, q) {
		out = append(out, c.ID)
	}
	return out
}
