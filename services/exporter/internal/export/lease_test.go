package export_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/acube/platform/libs/logging/logtest"
	"github.com/acube/platform/libs/testkit"
	"github.com/acube/platform/services/exporter/internal/audit"
	"github.com/acube/platform/services/exporter/internal/export"
)

// The lease tests run a worker whose heartbeat fires every 100 ms (a third
// of the lease) and an export that stops after a few rows until the test
// has seen what it waits for: no test guesses how long a run takes.
const testLease = 300 * time.Millisecond

// beatStore is the real store with every Heartbeat recorded. before, when
// set, runs first and may answer instead of the database (a non-nil
// error), as a connection that went away would.
type beatStore struct {
	export.Store
	before func(ctx context.Context) error

	mu   sync.Mutex
	errs []error // one per Heartbeat, nil for a renewal
}

func (s *beatStore) Heartbeat(ctx context.Context, id, claim uuid.UUID, total, written int64, lease time.Duration) error {
	var err error
	if s.before != nil {
		err = s.before(ctx)
	}
	if err == nil {
		err = s.Store.Heartbeat(ctx, id, claim, total, written, lease)
	}
	s.mu.Lock()
	s.errs = append(s.errs, err)
	s.mu.Unlock()
	return err
}

// renewals counts the heartbeats that extended the lease.
func (s *beatStore) renewals() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, err := range s.errs {
		if err == nil {
			n++
		}
	}
	return n
}

// calls returns every heartbeat's outcome so far.
func (s *beatStore) calls() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]error(nil), s.errs...)
}

// holdingSource streams the projection but, at its 10th record, calls hold
// and carries on only when hold returns nil. hold runs on the file
// writer's goroutine: it reports what it saw through the test's
// variables, never through t.
type holdingSource struct {
	inner export.RecordSource
	hold  func(ctx context.Context) error
}

func (s holdingSource) Stream(ctx context.Context, f audit.Filter, total func(int64), emit func([]string) error) error {
	n := 0
	return s.inner.Stream(ctx, f, total, func(c []string) error {
		if n++; n == 10 {
			if err := s.hold(ctx); err != nil {
				return err
			}
		}
		return emit(c)
	})
}

// until polls cond every 10 ms until it holds, ctx ends (its error is
// returned) or the wait bound passes. It is the hold of a source, which
// must not call t from the writer's goroutine.
func until(ctx context.Context, what string, cond func() bool) error {
	deadline := time.Now().Add(testkit.Scaled(testkit.DefaultTimeout))
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("gave up waiting for %s", what)
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

// leaseEnv is a test's database, bucket and metrics, with a worker on a
// short lease whose store records its heartbeats.
type leaseEnv struct {
	env
	reg   *prometheus.Registry
	store *beatStore
	log   *slog.Logger
	logs  *logtest.Buffer
}

func newLeaseEnv(t *testing.T) leaseEnv {
	t.Helper()
	e := newEnv(t)
	reg := prometheus.NewRegistry()
	m, err := export.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	e.m = m
	log, logs := logtest.NewLogger()
	return leaseEnv{env: e, reg: reg, store: &beatStore{Store: e.st}, log: log, logs: logs}
}

func (e leaseEnv) worker(src export.RecordSource) *export.Worker {
	if src == nil {
		src = e.st
	}
	return export.NewWorker(e.store, src, e.files, e.m, e.log, time.Now, export.WorkerConfig{
		Lease: testLease, MaxAttempts: 3, RetryDelay: time.Nanosecond, TTL: time.Hour,
		Links: export.Links{Base: "http://gw.example"},
	})
}

// runs reads exporter_export_runs_total{outcome}.
func (e leaseEnv) runs(t *testing.T, outcome string) float64 {
	t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "exporter_export_runs_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" && l.GetValue() == outcome {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no exporter_export_runs_total{outcome=%q}", outcome)
	return 0
}

// row is what the exports table says of an export's lease.
type row struct {
	status   string
	claim    *uuid.UUID
	held     bool // lease_until is in the future
	attempts int
	written  int64
}

func (e leaseEnv) row(ctx context.Context, id uuid.UUID) (row, error) {
	var r row
	err := e.pool.QueryRow(ctx, `SELECT status, claim_id, COALESCE(lease_until > now(), false), attempts, rows_written
		FROM exports WHERE id = $1`, id).Scan(&r.status, &r.claim, &r.held, &r.attempts, &r.written)
	return r, err
}

// TestIntegrationLeaseRenewedWhileExportRuns: a run that takes longer
// than its lease keeps it by its heartbeats; no other worker can claim the
// export meanwhile, and the run that finishes gives the lease up.
func TestIntegrationLeaseRenewedWhileExportRuns(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newLeaseEnv(t)
	seed(t, e.pool, 1500, "a@example.org")
	x, err := e.svc.Request(ctx, admin, "", audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var (
		during       row
		rivalClaimed bool
	)
	hold := func(ctx context.Context) error {
		// Four renewals: longer than the lease has passed since the claim.
		if err := until(ctx, "4 lease renewals", func() bool { return e.store.renewals() >= 4 }); err != nil {
			return err
		}
		var err error
		if during, err = e.row(ctx, x.ID); err != nil {
			return err
		}
		_, rivalClaimed, err = e.st.Claim(ctx, uuid.New(), testLease)
		return err
	}
	if worked, err := e.worker(holdingSource{inner: e.st, hold: hold}).RunOnce(ctx); !worked || err != nil {
		t.Fatalf("RunOnce = %v, %v", worked, err)
	}
	if during.status != string(export.Running) || during.claim == nil || !during.held {
		t.Errorf("after 4 renewals the export is %+v, want running under a lease still held", during)
	}
	if rivalClaimed {
		t.Error("another worker claimed the export while its lease was being renewed")
	}
	for i, err := range e.store.calls() {
		if err != nil {
			t.Errorf("heartbeat %d: %v, want a renewal", i+1, err)
		}
	}
	got, err := e.row(ctx, x.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.status != string(export.Completed) || got.claim != nil || got.held || got.attempts != 1 || got.written != 1500 {
		t.Errorf("after the run: %+v, want completed by its one attempt, 1500 rows, no claim or lease left", got)
	}
	if n := e.runs(t, export.OutcomeCompleted); n != 1 {
		t.Errorf("completed runs = %v, want 1", n)
	}
	// The finished run's claim renews nothing any more.
	if err := e.st.Heartbeat(ctx, x.ID, *during.claim, 1, 1, testLease); !errors.Is(err, export.ErrLeaseLost) {
		t.Errorf("heartbeat of the finished run = %v, want ErrLeaseLost", err)
	}
	if len(logtest.Find(e.logs.Lines(t), "BACKGROUND JOB progress", map[string]any{"job_id": x.ID.String()})) < 4 {
		t.Errorf("fewer than 4 progress lines for 4 renewals:\n%s", e.logs.String())
	}
}

// TestIntegrationLeaseLostToAnotherHolder: when another worker holds the
// export (its lease ran out and it was claimed again), the next heartbeat
// stops the run: it writes no file, leaves the export to the new holder
// and counts a lost lease, not a failure.
func TestIntegrationLeaseLostToAnotherHolder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newLeaseEnv(t)
	seed(t, e.pool, 500, "a@example.org")
	x, err := e.svc.Request(ctx, admin, "", audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	rival := uuid.New()
	var cause error
	hold := func(ctx context.Context) error {
		if _, err := e.pool.Exec(ctx, `UPDATE exports SET claim_id = $2, lease_until = now() + interval '1 hour',
			attempts = attempts + 1 WHERE id = $1`, x.ID, rival); err != nil {
			return err
		}
		// The run goes on until its heartbeat finds the export gone.
		err := until(ctx, "the run to be stopped", func() bool { return false })
		cause = err
		return err
	}
	if worked, err := e.worker(holdingSource{inner: e.st, hold: hold}).RunOnce(ctx); !worked || err != nil {
		t.Fatalf("RunOnce = %v, %v", worked, err)
	}
	if !errors.Is(cause, export.ErrLeaseLost) {
		t.Errorf("the run was stopped by %v, want ErrLeaseLost", cause)
	}
	calls := e.store.calls()
	if len(calls) == 0 || !errors.Is(calls[len(calls)-1], export.ErrLeaseLost) {
		t.Errorf("heartbeats %v, want the last one to find the lease lost", calls)
	}
	got, err := e.row(ctx, x.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.status != string(export.Running) || got.claim == nil || *got.claim != rival || got.attempts != 2 {
		t.Errorf("after the lost lease: %+v, want still running under the rival's claim", got)
	}
	if all := files(t, e.files); len(all) != 0 {
		t.Errorf("the stopped run left %+v in the bucket", all)
	}
	if lost, failed := e.runs(t, export.OutcomeLeaseLost), e.runs(t, export.OutcomeFailed); lost != 1 || failed != 0 {
		t.Errorf("runs lease_lost %v, failed %v; want 1, 0", lost, failed)
	}
	l := logtest.Find(e.logs.Lines(t), "BACKGROUND JOB failed", map[string]any{"job_id": x.ID.String()})
	if len(l) != 1 || l[0]["taken_over"] != true || l[0]["will_retry"] != true || l[0].Level() != "WARN" {
		t.Errorf("failed lines %v, want one WARN taken_over and will_retry", l)
	}
}

// TestIntegrationLeaseGivenUpWhenHeartbeatsFail: heartbeats that fail
// (the database unreachable) are logged and retried, and once the lease
// has not been renewed for two thirds of its length the run stops: the
// lease will run out and another worker may take over, so two never both
// think they hold the export. Once it has run out, one does.
func TestIntegrationLeaseGivenUpWhenHeartbeatsFail(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newLeaseEnv(t)
	seed(t, e.pool, 300, "a@example.org")
	x, err := e.svc.Request(ctx, admin, "", audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	e.store.before = func(context.Context) error { return errors.New("connection refused") }
	var cause error
	hold := func(ctx context.Context) error {
		cause = until(ctx, "the run to be stopped", func() bool { return false })
		return cause
	}
	if worked, err := e.worker(holdingSource{inner: e.st, hold: hold}).RunOnce(ctx); !worked || err != nil {
		t.Fatalf("RunOnce = %v, %v", worked, err)
	}
	if !errors.Is(cause, export.ErrLeaseLost) {
		t.Errorf("the run was stopped by %v, want ErrLeaseLost", cause)
	}
	calls := e.store.calls()
	if len(calls) == 0 {
		t.Error("the run stopped without a heartbeat")
	}
	lines := e.logs.Lines(t)
	if warn := logtest.Find(lines, "export heartbeat failed", map[string]any{"error": "connection refused"}); len(warn) != len(calls) {
		t.Errorf("%d heartbeat warnings for %d failed heartbeats", len(warn), len(calls))
	}
	if l := logtest.Find(lines, "BACKGROUND JOB failed", map[string]any{"job_id": x.ID.String(), "taken_over": true}); len(l) != 1 {
		t.Errorf("%d lease-lost lines, want 1", len(l))
	}
	if n := e.runs(t, export.OutcomeLeaseLost); n != 1 {
		t.Errorf("lease_lost runs = %v, want 1", n)
	}
	if all := files(t, e.files); len(all) != 0 {
		t.Errorf("the stopped run left %+v in the bucket", all)
	}

	// The stopped run released nothing: the export waits for its lease to
	// run out, then a healthy worker takes it over and finishes it.
	e.store.before = nil
	w := e.worker(nil)
	testkit.Eventually(t, "another worker to take the export over", func() bool {
		worked, err := w.RunOnce(ctx)
		return worked && err == nil
	})
	got, err := e.row(ctx, x.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.status != string(export.Completed) || got.attempts != 2 || got.written != 300 {
		t.Errorf("after the takeover: %+v, want completed on the second attempt", got)
	}
}

// TestIntegrationLeaseReleasedOnShutdownDuringHeartbeat: a shutdown that
// arrives while a heartbeat is in flight stops the heartbeat without
// taking it for a lost lease, and the run puts the export back in the
// queue without counting the attempt.
func TestIntegrationLeaseReleasedOnShutdownDuringHeartbeat(t *testing.T) {
	t.Parallel()
	e := newLeaseEnv(t)
	seed(t, e.pool, 300, "a@example.org")
	x, err := e.svc.Request(context.Background(), admin, "", audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, shutdown := context.WithCancel(context.Background())
	defer shutdown()
	e.store.before = func(context.Context) error { shutdown(); return nil } // SIGTERM, then the query
	hold := func(ctx context.Context) error {
		return until(ctx, "the shutdown", func() bool { return false })
	}
	if worked, err := e.worker(holdingSource{inner: e.st, hold: hold}).RunOnce(ctx); !worked || err != nil {
		t.Fatalf("RunOnce = %v, %v", worked, err)
	}
	calls := e.store.calls()
	if len(calls) != 1 || !errors.Is(calls[0], context.Canceled) {
		t.Errorf("heartbeats %v, want one, cut short by the shutdown", calls)
	}
	got, err := e.row(context.Background(), x.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.status != string(export.Queued) || got.claim != nil || got.held || got.attempts != 0 {
		t.Errorf("after the shutdown: %+v, want queued again, unclaimed, no attempt counted", got)
	}
	if lost, interrupted := e.runs(t, export.OutcomeLeaseLost), e.runs(t, export.OutcomeInterrupted); lost != 0 || interrupted != 1 {
		t.Errorf("runs lease_lost %v, interrupted %v; want 0, 1", lost, interrupted)
	}
}

// TestIntegrationExportInterruptedTooOften: an export whose runs keep
// being cut off (a worker crashing on it each time) fails on the claim
// after the last allowed attempt, without another run.
func TestIntegrationExportInterruptedTooOften(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newLeaseEnv(t)
	seed(t, e.pool, 5, "a@example.org")
	x, err := e.svc.Request(ctx, admin, "", audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	// Three crashed runs: each claimed it and died holding the lease.
	for range 3 {
		if _, ok, err := e.st.Claim(ctx, uuid.New(), time.Hour); !ok || err != nil {
			t.Fatalf("Claim = %v, %v", ok, err)
		}
		if _, err := e.pool.Exec(ctx, `UPDATE exports SET lease_until = now() - interval '1 second' WHERE id = $1`, x.ID); err != nil {
			t.Fatal(err)
		}
	}
	src := holdingSource{inner: e.st, hold: func(context.Context) error { return errors.New("a fourth run started") }}
	if worked, err := e.worker(src).RunOnce(ctx); !worked || err != nil {
		t.Fatalf("RunOnce = %v, %v", worked, err)
	}
	got, err := e.st.Get(ctx, x.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != export.Failed || got.Attempts != 4 || got.Error != "the export was interrupted 3 times" {
		t.Errorf("after 3 crashed runs: %+v, want failed as interrupted 3 times", got)
	}
	if n := e.runs(t, export.OutcomeFailed); n != 1 {
		t.Errorf("failed runs = %v, want 1", n)
	}
	if len(e.store.calls()) != 0 {
		t.Error("a heartbeat ran for an export that was never run")
	}
}
