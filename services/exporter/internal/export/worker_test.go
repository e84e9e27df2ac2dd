package export_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/objstore"
	"github.com/acube/platform/libs/objstore/objstoretest"
	"github.com/acube/platform/libs/stream"
	"github.com/acube/platform/services/exporter/internal/audit"
	"github.com/acube/platform/services/exporter/internal/dbtest"
	"github.com/acube/platform/services/exporter/internal/export"
	"github.com/acube/platform/services/exporter/internal/store"
)

var t0 = time.Date(2025, 1, 10, 8, 0, 0, 0, time.UTC)

type env struct {
	pool  *pgxpool.Pool
	st    *store.Store
	files *objstore.Bucket // the EXPORTS bucket
	svc   *export.Service
	m     *export.Metrics
}

func newEnv(t *testing.T) env {
	t.Helper()
	pool := dbtest.NewPool(t)
	files, _ := objstoretest.Start(t, stream.ExportFiles(1, time.Hour))
	m, err := export.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	st := store.New(pool)
	return env{pool: pool, st: st, files: files, m: m, svc: export.NewService(st, time.Now, func() {})}
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

// readCSV reads an export's file back from the bucket.
func readCSV(t *testing.T, files *objstore.Bucket, name string) [][]string {
	t.Helper()
	f, err := files.Open(context.Background(), name)
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

// files lists the bucket's files.
func files(t *testing.T, b *objstore.Bucket) []objstore.Info {
	t.Helper()
	all, err := b.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return all
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
	rows := readCSV(t, e.files, got.File)
	if len(rows) != 3001 {
		t.Fatalf("file has %d rows, want header + 3000", len(rows))
	}
	if rows[0][0] != "event_id" || rows[1][3] != "'=evil@example.org" || rows[1][6] != "'-1" {
		t.Errorf("first rows %q, %q: want header and neutralised cells", rows[0], rows[1])
	}
	if all := files(t, e.files); len(all) != 1 || all[0].Name != got.File || all[0].Size != got.Size || all[0].ContentType != export.ContentType {
		t.Errorf("bucket holds %+v, want only the export's file of %d bytes", all, got.Size)
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
	opened, err := e.svc.Download(ctx, x.ID)
	if err != nil || opened.ID != x.ID || opened.File != got.File {
		t.Errorf("Download = %+v, %v; want the completed export", opened, err)
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
	if _, err := e.svc.Download(ctx, x.ID); !errors.Is(err, export.ErrFailed) {
		t.Errorf("Download of a failed export = %v, want ErrFailed", err)
	}
	if all := files(t, e.files); len(all) != 0 {
		t.Errorf("failed runs left %d files behind", len(all))
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
	if all := files(t, e.files); len(all) != 0 {
		t.Errorf("interrupted run left %d files behind", len(all))
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
	// A worker claims it, stores its file and dies before completing: its
	// lease runs out, its file stays.
	dead := uuid.New()
	if _, ok, _ := e.st.Claim(ctx, dead, time.Minute); !ok {
		t.Fatal("claim failed")
	}
	deadFile := export.RunFile(x.File, dead)
	if _, err := e.files.Put(ctx, deadFile, export.ContentType, strings.NewReader("the dead run's file")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pool.Exec(ctx, `UPDATE exports SET lease_until = now() - interval '1 second'`); err != nil {
		t.Fatal(err)
	}
	if worked, err := e.worker(nil).RunOnce(ctx); !worked || err != nil {
		t.Fatalf("RunOnce = %v, %v", worked, err)
	}
	got, _ := e.st.Get(ctx, x.ID)
	if got.Status != export.Completed || got.Attempts != 2 || got.RowsTotal != 50 || got.File == deadFile {
		t.Fatalf("after crash and rerun: %+v", got)
	}
	// The rerun wrote a file of its own; the dead run's is left to the
	// bucket's TTL and never served.
	if rows := readCSV(t, e.files, got.File); len(rows) != 51 {
		t.Fatalf("rerun's file has %d rows, want header + 50", len(rows))
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
	n, err := export.NewPurger(e.st, e.files, e.m, dbtest.Discard(), later, time.Hour).PurgeOnce(ctx)
	if err != nil || n != 1 {
		t.Fatalf("PurgeOnce = %d, %v; want 1 file", n, err)
	}
	if _, err := e.files.Stat(ctx, got.File); !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("expired file still there: %v", err)
	}
	if n, err := export.NewPurger(e.st, e.files, e.m, dbtest.Discard(), later, time.Hour).PurgeOnce(ctx); err != nil || n != 0 {
		t.Errorf("second PurgeOnce = %d, %v; want nothing left to purge", n, err)
	}
	expired := export.NewService(e.st, later, func() {})
	if _, err := expired.Get(ctx, x.ID); !errors.Is(err, export.ErrNotFound) {
		t.Errorf("Get of an expired export = %v, want ErrNotFound", err)
	}
}

// stealingSource, after a few rows, lets the export's lease run out and
// another worker claim and complete it, as when a worker stalls past its
// lease; then it carries on.
type stealingSource struct {
	inner export.RecordSource
	steal func()
}

func (s stealingSource) Stream(ctx context.Context, f audit.Filter, total func(int64), emit func([]string) error) error {
	n := 0
	return s.inner.Stream(ctx, f, total, func(c []string) error {
		if n++; n == 10 {
			s.steal()
		}
		return emit(c)
	})
}

// TestIntegrationLeaseLostRunLeavesTheWinnersFile: a run that lost its
// lease mid-way finishes writing, fails to complete, and deletes only its
// own file; the export keeps the file of the run that took over.
func TestIntegrationLeaseLostRunLeavesTheWinnersFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	seed(t, e.pool, 200, "a@example.org")
	x, err := e.svc.Request(ctx, admin, "", audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	steal := func() {
		if _, err := e.pool.Exec(ctx, `UPDATE exports SET lease_until = now() - interval '1 second'`); err != nil {
			t.Error(err)
		}
		if worked, err := e.worker(nil).RunOnce(ctx); !worked || err != nil {
			t.Errorf("the second worker's RunOnce = %v, %v", worked, err)
		}
	}
	if worked, err := e.worker(stealingSource{inner: e.st, steal: steal}).RunOnce(ctx); !worked || err != nil {
		t.Fatalf("the first worker's RunOnce = %v, %v", worked, err)
	}
	got, _ := e.st.Get(ctx, x.ID)
	if got.Status != export.Completed || got.Attempts != 2 {
		t.Fatalf("export after the takeover: %+v", got)
	}
	if rows := readCSV(t, e.files, got.File); len(rows) != 201 {
		t.Fatalf("the winner's file has %d rows, want header + 200", len(rows))
	}
	if all := files(t, e.files); len(all) != 1 || all[0].Name != got.File {
		t.Errorf("bucket holds %+v; want only the winner's file %s", all, got.File)
	}
}
