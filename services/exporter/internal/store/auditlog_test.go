package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/acube/platform/services/exporter/internal/audit"
	"github.com/acube/platform/services/exporter/internal/dbtest"
	"github.com/acube/platform/services/exporter/internal/store"
)

var base = time.Date(2025, 1, 10, 8, 0, 0, 0, time.UTC)

// seedAudit inserts records r0..r5 one hour apart and returns them.
func seedAudit(t *testing.T, pool *pgxpool.Pool) []audit.Record {
	t.Helper()
	recs := []audit.Record{
		{ActorID: "a1", ActorEmail: "Ann@Example.org", Action: "delete", Entity: "session", EntityID: "s1", ClientIP: "10.0.0.1"},
		{ActorID: "a2", ActorEmail: "bob@example.org", Action: "delete", Entity: "volunteer", EntityID: "v1"},
		{ActorID: "a1", ActorEmail: "ann@example.org", Action: "status_update", Entity: "session", EntityID: "s2",
			Changes: json.RawMessage(`{"status": ["pending", "confirmed"]}`)},
		{ActorID: "a3", ActorEmail: "=cmd@example.org", Action: "create", Entity: "admin", EntityID: "-1"},
		{ActorID: "a2", ActorEmail: "bob@example.org", Action: "status_update", Entity: "contact", EntityID: "c1"},
		{ActorID: "a1", ActorEmail: "ann@example.org", Action: "delete", Entity: "session", EntityID: "s3"},
	}
	err := pgx.BeginFunc(context.Background(), pool, func(tx pgx.Tx) error {
		for i := range recs {
			recs[i].EventID = uuid.Must(uuid.NewV7())
			recs[i].OccurredAt = base.Add(time.Duration(i) * time.Hour)
			if recs[i].Changes == nil {
				recs[i].Changes = json.RawMessage(`{}`)
			}
			if err := store.InsertAudit(context.Background(), tx, recs[i]); err != nil {
				return err
			}
			// A second insert of the same event changes nothing.
			if err := store.InsertAudit(context.Background(), tx, recs[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("seed audit records: %v", err)
	}
	return recs
}

func TestIntegrationStreamFilters(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	recs := seedAudit(t, pool)
	st := store.New(pool)
	tests := []struct {
		name string
		f    audit.Filter
		want []int // indexes into recs, in order
	}{
		{name: "no filter", f: audit.Filter{}, want: []int{0, 1, 2, 3, 4, 5}},
		{name: "admin by id", f: audit.Filter{Admin: "a1"}, want: []int{0, 2, 5}},
		{name: "admin id exactly", f: audit.Filter{AdminID: "a2"}, want: []int{1, 4}},
		{name: "admin id is not an e-mail", f: audit.Filter{AdminID: "bob@example.org"}, want: nil},
		{name: "admin by email ignoring case", f: audit.Filter{Admin: "ANN@example.ORG"}, want: []int{0, 2, 5}},
		{name: "action", f: audit.Filter{Action: "status_update"}, want: []int{2, 4}},
		{name: "entity", f: audit.Filter{Entity: "session"}, want: []int{0, 2, 5}},
		{name: "from inclusive", f: audit.Filter{From: base.Add(4 * time.Hour)}, want: []int{4, 5}},
		{name: "to exclusive", f: audit.Filter{To: base.Add(2 * time.Hour)}, want: []int{0, 1}},
		{name: "all together", f: audit.Filter{Admin: "a1", Action: "delete", Entity: "session", From: base.Add(time.Hour), To: base.Add(6 * time.Hour)}, want: []int{5}},
		{name: "nothing matches", f: audit.Filter{Admin: "nobody"}, want: nil},
		{name: "injection attempt is just text", f: audit.Filter{Action: "x' OR '1'='1"}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var (
				total int64 = -1
				got   []string
			)
			err := st.Stream(context.Background(), tt.f, func(n int64) { total = n }, func(cells []string) error {
				got = append(got, strings.Clone(cells[0])) // cells are valid only until emit returns
				return nil
			})
			if err != nil {
				t.Fatalf("Stream: %v", err)
			}
			var want []string
			for _, i := range tt.want {
				want = append(want, recs[i].EventID.String())
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("event ids (-want +got):\n%s", diff)
			}
			if total < 0 {
				t.Error("no estimate of the total was reported")
			}
		})
	}
}

func TestIntegrationStreamCells(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	recs := seedAudit(t, pool)
	var rows [][]string
	err := store.New(pool).Stream(context.Background(), audit.Filter{Entity: "session", Action: "status_update"},
		func(int64) {}, func(cells []string) error {
			row := make([]string, len(cells)) // cells are valid only until emit returns
			for i, c := range cells {
				row[i] = strings.Clone(c)
			}
			rows = append(rows, row)
			return nil
		})
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	want := [][]string{{recs[2].EventID.String(), "2025-01-10T10:00:00Z", "a1", "ann@example.org", "status_update",
		"session", "s2", "", `{"status": ["pending", "confirmed"]}`}}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("cells (-want +got):\n%s", diff)
	}
	if got := len(audit.Columns()); got != len(rows[0]) {
		t.Errorf("%d header columns for %d cells", got, len(rows[0]))
	}
}

func TestIntegrationStreamStopsOnEmitError(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	seedAudit(t, pool)
	stop := errors.New("stop here")
	n := 0
	err := store.New(pool).Stream(context.Background(), audit.Filter{}, func(int64) {}, func([]string) error {
		n++
		if n == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("Stream error = %v, want %v", err, stop)
	}
	if n != 2 {
		t.Errorf("emit called %d times after its error, want 2", n)
	}
}
