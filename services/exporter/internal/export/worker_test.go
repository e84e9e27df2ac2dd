package export_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/services/exporter/internal/audit"
	"github.com/acube/platform/services/exporter/internal/dbtest"
	"github.com/acube/platform/services/exporter/internal/export"
	"github.com/acube/platform/services/exporter/internal/store"
)

var t0 = time.Date(2025, 1, 10, 8, 0, 0, 0, time.UTC)

type env struct {
	pool  *pgxpool.Pool
	st    *store.Store
	files *export.Files
	dir   string
	svc   *export.Service
	m     *export.Metrics
}

func newEnv(t *testing.T) env {
	t.Helper()
	pool := dbtest.NewPool(t)
	dir := t.TempDir()
	files, err := export.OpenFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { files.Close() })
	m, err := export.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	st := store.New(pool)
	return env{pool: pool, st: st, files: files, dir: dir, m: m, svc: export.NewService(st, files, time.Now, func() {})}
}

func (e env) worker(src export.RecordSource) *export.Worker {
	if src == nil {
		src = e.st
	}
	return export.NewWorker(e.st, src, e.files, e.m, dbtest.Discard(), time.Now, export.WorkerConfig{
		Lease: time.Minute, MaxAttempts: 2, RetryDelay: time.Nanosecond, TTL: time.Hour,
		Links: export.Links{Base: "http://gw.example"},
	})
}

func seed(t *testing.T, pool *pgxpool.Pool, n int, actorEmail string) {
	t.Helper()
	err := pgx.BeginFunc(context.Background(), pool, func(tx pgx.Tx) error {
		for i := range n {
			r := audit.Record{EventID: uuid.Must(uuid.NewV7()), OccurredAt: t0.Add(time.Duration(i) * time.Second),
				ActorID: "a1", ActorEmail: actorEmail, Action: "delete", Entity: "session", EntityID: "-1",
				Changes: json.RawMessage(`{"name": "=HYPERLINK(\"x\")"}`)}
			if err := store.InsertAudit(context.Background(), tx, r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

var admin = export.Admin{ID: "a9", Email: "boss@example.org", Name: "Boss"}

func TestIntegrationWorkerCompletes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	seed(t, e.pool, 3000, "=evil@example.org")
	seed(t, e.pool, 5, "other@example.org")
	x, err := e.svc.Request(ctx, admin, "10.0.0.1", audit.Filter{Admin: "=EVIL@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	worked, err := e.worker(nil).RunOnce(ctx)
	if !worked || err != nil {
		t.Fatalf("RunOnce = %v, %v", worked, err)
	}
	got, err := e.svc.Get(ctx, x.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != export.Completed || got.RowsTotal != 3000 || got.Progress() != 100 || got.Size == 0 {
		t.Fatalf("export after run: %+v", got)
	}
	rows := readCSV(t, filepath.Join(e.dir, got.File))
	if len(rows) != 3001 {
		t.Fatalf("file has %d rows, want header + 3000", len(rows))
	}
	if rows[0][0] != "event_id" || rows[1][3] != "'=evil@example.org" || rows[1][6] != "'-1" {
		t.Errorf("first rows %q, %q: want header and neutralised cells", rows[0], rows[1])
	}
	entries, _ := os.ReadDir(e.dir)
	if len(entries) != 1 {
		t.Errorf("export dir holds %d files, want only the export", len(entries))
	}
	var ev events.Event
	if err := json.Unmarshal(dbtest.OutboxPayload(t, e.pool, export.TypeCompleted), &ev); err != nil {
		t.Fatal(err)
	}
	var data events.ExportCompleted
	if err := ev.UnmarshalData(&data); err != nil {
		t.Fatal(err)
	}
	want := events.ExportCompleted{ExportID: x.ID, AdminID: "a9", AdminEmail: "boss@example.org", AdminName: "Boss",
		Kind: export.KindAuditLogs, Rows: 3000, Bytes: got.Size,
		DownloadURL: "http://gw.example/api/admin/exports/" + x.ID.String() + "/download",
		ExpiresAt:   got.ExpiresAt, CompletedAt: got.FinishedAt}
	if data != want {
		t.Errorf("completed event data = %+v, want %+v", data, want)
	}
	f, opened, err := e.svc.Open(ctx, x.ID)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	f.Close()
	if opened.ID != x.ID {
		t.Errorf("opened %s, want %s", opened.ID, x.ID)
	}
	if worked, _ := e.worker(nil).RunOnce(ctx); worked {
		t.Error("a worker found work after the only export completed")
	}
}

// failingSource fails every stream after a few rows.
type failingSource struct{ inner export.RecordSource }

func (s failingSource) Stream(ctx context.Context, f audit.Filter, total func(int64), emit func([]string) error) error {
	n := 0
	return s.inner.Stream(ctx, f, total, func(c []string) error {
		if n++; n == 3 {
			return errors.New("connection reset")
		}
		return emit(c)
	})
}

func TestIntegrationWorkerRetriesThenFails(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	seed(t, e.pool, 10, "a@example.org")
	x, err := e.svc.Request(ctx, admin, "", audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	w := e.worker(failingSource{e.st})
	for attempt := 1; attempt <= 2; attempt++ {
		if worked, err := w.RunOnce(ctx); !worked || err != nil {
			t.Fatalf("attempt %d: RunOnce = %v, %v", attempt, worked, err)
		}
	}
	got, _ := e.st.Get(ctx, x.ID)
	if got.Status != export.Failed || got.Attempts != 2 || got.Error == "" {
		t.Fatalf("after 2 failing runs: %+v, want failed with a reason", got)
	}
	if _, _, err := e.svc.Open(ctx, x.ID); !errors.Is(err, export.ErrFailed) {
		t.Errorf("Open of a failed export = %v, want ErrFailed", err)
	}
	if entries, _ := os.ReadDir(e.dir); len(entries) != 0 {
		t.Errorf("failed runs left %d files behind", len(entries))
	}
	if subjects := dbtest.OutboxSubjects(t, e.pool); subjects[len(subjects)-1] != export.TypeFailed {
		t.Errorf("outbox %v, want the failed event last", subjects)
	}
}

// cancellingSource ends the context mid-stream, as SIGTERM would.
type cancellingSource struct {
	inner  export.RecordSource
	cancel context.CancelFunc
}

func (s cancellingSource) Stream(ctx context.Context, f audit.Filter, total func(int64), emit func([]string) error) error {
	n := 0
	return s.inner.Stream(ctx, f, total, func(c []string) error {
		if n++; n == 5 {
			s.cancel()
		}
		return emit(c)
	})
}

func TestIntegrationWorkerShutdownRequeues(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	seed(t, e.pool, 2000, "a@example.org")
	x, err := e.svc.Request(context.Background(), admin, "", audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if worked, err := e.worker(cancellingSource{e.st, cancel}).RunOnce(ctx); !worked || err != nil {
		t.Fatalf("interrupted RunOnce = %v, %v", worked, err)
	}
	got, _ := e.st.Get(context.Background(), x.ID)
	if got.Status != export.Queued || got.Attempts != 0 {
		t.Fatalf("after shutdown: status %s, attempts %d; want queued, 0", got.Status, got.Attempts)
	}
	if entries, _ := os.ReadDir(e.dir); len(entries) != 0 {
		t.Errorf("interrupted run left %d files behind", len(entries))
	}
	// The next start finishes it.
	if worked, err := e.worker(nil).RunOnce(context.Background()); !worked || err != nil {
		t.Fatalf("RunOnce after restart = %v, %v", worked, err)
	}
	if got, _ = e.st.Get(context.Background(), x.ID); got.Status != export.Completed || got.RowsTotal != 2000 {
		t.Errorf("after restart: %+v", got)
	}
}

func TestIntegrationWorkerResumesAfterCrash(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	seed(t, e.pool, 50, "a@example.org")
	x, err := e.svc.Request(ctx, admin, "", audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	// A worker claims it and dies: its lease runs out, its part file stays.
	dead := uuid.New()
	if _, ok, _ := e.st.Claim(ctx, dead, time.Minute); !ok {
		t.Fatal("claim failed")
	}
	part, err := e.files.Create(export.PartName(x.File, dead))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.WriteString(part, "half a file")
	part.Close()
	if _, err := e.pool.Exec(ctx, `UPDATE exports SET lease_until = now() - interval '1 second'`); err != nil {
		t.Fatal(err)
	}
	if worked, err := e.worker(nil).RunOnce(ctx); !worked || err != nil {
		t.Fatalf("RunOnce = %v, %v", worked, err)
	}
	got, _ := e.st.Get(ctx, x.ID)
	if got.Status != export.Completed || got.Attempts != 2 || got.RowsTotal != 50 {
		t.Fatalf("after crash and rerun: %+v", got)
	}
	// The dead run's part file is swept once it is old enough.
	purger := export.NewPurger(e.st, e.files, e.m, dbtest.Discard(), func() time.Time { return time.Now().Add(2 * time.Hour) }, time.Hour, time.Hour)
	if _, err := purger.PurgeOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(e.dir, export.PartName(x.File, dead))); !os.IsNotExist(err) {
		t.Errorf("stale part file still there: %v", err)
	}
}

func TestIntegrationPurgeExpired(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	seed(t, e.pool, 5, "a@example.org")
	x, _ := e.svc.Request(ctx, admin, "", audit.Filter{})
	if worked, err := e.worker(nil).RunOnce(ctx); !worked || err != nil {
		t.Fatalf("RunOnce = %v, %v", worked, err)
	}
	got, _ := e.st.Get(ctx, x.ID)
	later := func() time.Time { return got.ExpiresAt.Add(time.Second) }
	n, err := export.NewPurger(e.st, e.files, e.m, dbtest.Discard(), later, time.Hour, time.Hour).PurgeOnce(ctx)
	if err != nil || n != 1 {
		t.Fatalf("PurgeOnce = %d, %v; want 1 file", n, err)
	}
	if _, err := os.Stat(filepath.Join(e.dir, got.File)); !os.IsNotExist(err) {
		t.Errorf("expired file still there: %v", err)
	}
	expired := export.NewService(e.st, e.files, later, func() {})
	if _, err := expired.Get(ctx, x.ID); !errors.Is(err, export.ErrNotFound) {
		t.Errorf("Get of an expired export = %v, want ErrNotFound", err)
	}
}
