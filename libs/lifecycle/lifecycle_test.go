package lifecycle_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/acube/platform/libs/lifecycle"
	"github.com/acube/platform/libs/natstest"
	"github.com/acube/platform/libs/postgres/pgtest"
	"github.com/acube/platform/libs/stream"
	"github.com/acube/platform/libs/testkit"
	"github.com/acube/platform/libs/web"
)

// journal records what the parts saw, in order.
type journal struct {
	mu     sync.Mutex
	events []string
}

func (j *journal) add(format string, args ...any) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.events = append(j.events, fmt.Sprintf(format, args...))
}

func (j *journal) list() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.events)
}

func (j *journal) has(event string) bool { return slices.Contains(j.list(), event) }

// parts are the real pieces a service hands the lifecycle.
type parts struct {
	pool  *pgxpool.Pool
	nc    *nats.Conn
	ln    net.Listener
	base  string
	srv   *http.Server
	probe *web.Probes
	// fresh never reuses a connection, so a request that gets an answer
	// proves the listener still accepts.
	fresh *http.Client
}

func newParts(t *testing.T, extra func(chi.Router)) parts {
	t.Helper()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	ns := natstest.Start(t)
	nc, err := nats.Connect(ns.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	probes := web.NewProbes(prometheus.NewRegistry(), map[string]web.Check{"postgres": pool.Ping})
	r := chi.NewRouter()
	probes.Mount(r)
	if extra != nil {
		extra(r)
	}
	return parts{pool: pool, nc: nc, ln: ln, base: "http://" + ln.Addr().String(), srv: web.NewServer("", r), probe: probes,
		fresh: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}}
}

func (p parts) status(path string) (int, error) {
	resp, err := p.fresh.Get(p.base + path)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

func discard() *slog.Logger { return slog.New(slog.NewJSONHandler(io.Discard, nil)) }

// start runs the lifecycle and waits until /readyz answers 200.
func start(t *testing.T, p parts, l *lifecycle.Lifecycle, ctx context.Context) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	testkit.Eventually(t, "readyz 200", func() bool {
		code, err := p.status("/readyz")
		return err == nil && code == http.StatusOK
	})
	return done
}

func waitDone(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(60 * time.Second):
		t.Fatal("Run did not return within 60s of the shutdown (liveness bound)")
		return nil
	}
}

// TestIntegrationShutdownOrder stops a service made of real parts and
// checks, from what each part saw, that the stages run in the documented
// order: /readyz is 503 while the listener still accepts, an in-flight
// request finishes before the consumers are told to stop, the consumers
// and the relay can still use NATS and the database while they stop, the
// NATS drain delivers what they published and finishes before the pool
// closes.
func TestIntegrationShutdownOrder(t *testing.T) {
	t.Parallel()
	var j journal
	entered, release := make(chan struct{}), make(chan struct{})
	p := newParts(t, func(r chi.Router) {
		r.Get("/slow", func(w http.ResponseWriter, _ *http.Request) {
			close(entered)
			<-release
			j.add("http request finished")
			w.WriteHeader(http.StatusOK)
		})
	})

	var got []string
	var gotMu sync.Mutex
	if _, err := p.nc.Subscribe("lifecycle.>", func(m *nats.Msg) {
		gotMu.Lock()
		got = append(got, m.Subject)
		gotMu.Unlock()
	}); err != nil {
		t.Fatal(err)
	}
	p.nc.SetClosedHandler(func(*nats.Conn) {
		gotMu.Lock()
		n := len(got)
		gotMu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		j.add("nats closed: delivered %d, pool ping error %v", n, p.pool.Ping(ctx))
	})
	// stopping is a part that, once told to stop, checks it can still
	// reach the database and publish.
	stopping := func(name, subject string) lifecycle.Task {
		return func(ctx context.Context) error {
			<-ctx.Done()
			j.add("%s stopping", name)
			pctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := p.pool.Ping(pctx); err != nil {
				return fmt.Errorf("%s: database gone while stopping: %w", name, err)
			}
			if err := p.nc.Publish(subject, []byte(name)); err != nil {
				return fmt.Errorf("%s: nats gone while stopping: %w", name, err)
			}
			j.add("%s stopped", name)
			return nil
		}
	}
	l, err := lifecycle.New(lifecycle.Config{
		Server: p.srv, Listener: p.ln, Probes: p.probe,
		Consumers: []lifecycle.Task{stopping("consumer", "lifecycle.consumer")},
		Relay:     stopping("relay", "lifecycle.relay"),
		NATS:      stream.Drain(p.nc, discard()), Pool: p.pool, Grace: time.Minute, Log: discard(),
		OnStage: func(s lifecycle.Stage) {
			j.add("stage %s", s)
			if s == lifecycle.StageHTTP {
				code, err := p.status("/readyz")
				j.add("readyz during http stage: %d %v", code, err)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := start(t, p, l, ctx)

	slow := make(chan error, 1)
	go func() {
		code, err := p.status("/slow")
		if err == nil && code != http.StatusOK {
			err = fmt.Errorf("status %d", code)
		}
		slow <- err
	}()
	<-entered
	cancel()
	testkit.Eventually(t, "the http stage", func() bool { return j.has("readyz during http stage: 503 <nil>") })
	// HTTP cannot finish while /slow runs, so nothing after it has begun.
	if j.has("stage consumers") || j.has("consumer stopping") {
		t.Fatalf("consumers told to stop while a request was in flight: %v", j.list())
	}
	close(release)
	if err := <-slow; err != nil {
		t.Fatalf("in-flight request: %v", err)
	}
	if err := waitDone(t, done); err != nil {
		t.Fatalf("Run: %v", err)
	}

	want := []string{
		"stage not_ready",
		"stage http",
		"readyz during http stage: 503 <nil>",
		"http request finished",
		"stage consumers",
		"consumer stopping",
		"consumer stopped",
		"stage relay",
		"relay stopping",
		"relay stopped",
		"stage nats",
		"nats closed: delivered 2, pool ping error <nil>",
		"stage pool",
	}
	if got := j.list(); !slices.Equal(got, want) {
		t.Errorf("shutdown journal:\n got %q\nwant %q", got, want)
	}
	if !p.nc.IsClosed() {
		t.Error("nats connection not closed")
	}
	if err := p.pool.Ping(context.Background()); err == nil {
		t.Error("pool still answers after Run returned")
	}
	if _, err := p.status("/healthz"); err == nil {
		t.Error("listener still accepts after Run returned")
	}
}

// TestIntegrationShutdownGraceBound: a consumer that never finishes does
// not hold the process beyond the grace; Run reports it, and still closes
// NATS, while the consumer is stuck.
func TestIntegrationShutdownGraceBound(t *testing.T) {
	t.Parallel()
	p := newParts(t, nil)
	stuck := make(chan struct{})
	t.Cleanup(func() { close(stuck) })
	var relayStopped sync.WaitGroup
	relayStopped.Add(1)
	l, err := lifecycle.New(lifecycle.Config{
		Server: p.srv, Listener: p.ln, Probes: p.probe,
		Consumers: []lifecycle.Task{func(context.Context) error { <-stuck; return nil }},
		Relay:     func(ctx context.Context) error { <-ctx.Done(); relayStopped.Done(); return nil },
		NATS:      stream.Drain(p.nc, discard()), Pool: p.pool, Grace: 300 * time.Millisecond, Log: discard(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := start(t, p, l, ctx)
	began := time.Now()
	cancel()
	err = waitDone(t, done)
	t.Logf("Run returned %s after the shutdown began, grace 300ms, one consumer stuck", time.Since(began).Round(time.Millisecond))
	if err == nil || !strings.Contains(err.Error(), "consumers and workers still running") {
		t.Fatalf("Run = %v, want the stuck consumer reported", err)
	}
	relayStopped.Wait() // the relay was still told to stop
	if !p.nc.IsClosed() {
		t.Error("nats connection left open after the grace")
	}
}

// TestIntegrationPartFailureStops: a part that fails on its own stops the
// service, in order, and Run returns its error.
func TestIntegrationPartFailureStops(t *testing.T) {
	t.Parallel()
	p := newParts(t, nil)
	boom := errors.New("boom")
	var stages []lifecycle.Stage
	l, err := lifecycle.New(lifecycle.Config{
		Server: p.srv, Listener: p.ln, Probes: p.probe,
		Workers: []lifecycle.Task{func(context.Context) error { return boom }},
		NATS:    stream.Drain(p.nc, discard()), Pool: p.pool, Log: discard(),
		OnStage: func(s lifecycle.Stage) { stages = append(stages, s) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := waitDone(t, func() <-chan error {
		done := make(chan error, 1)
		go func() { done <- l.Run(context.Background()) }()
		return done
	}()); !errors.Is(err, boom) {
		t.Fatalf("Run = %v, want %v", err, boom)
	}
	want := []lifecycle.Stage{lifecycle.StageNotReady, lifecycle.StageHTTP, lifecycle.StageConsumers,
		lifecycle.StageRelay, lifecycle.StageNATS, lifecycle.StagePool}
	if !slices.Equal(stages, want) {
		t.Errorf("stages %v, want %v", stages, want)
	}
}

// TestNewRefusesIncompleteConfig needs no server.
func TestNewRefusesIncompleteConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  lifecycle.Config
		want string
	}{
		{name: "no server", cfg: lifecycle.Config{Probes: web.NewProbes(prometheus.NewRegistry(), nil), Log: discard()}, want: "server"},
		{name: "no probes", cfg: lifecycle.Config{Server: &http.Server{}, Log: discard()}, want: "probes"},
		{name: "no logger", cfg: lifecycle.Config{Server: &http.Server{}, Probes: web.NewProbes(prometheus.NewRegistry(), nil)}, want: "logger"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := lifecycle.New(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New = %v, want an error about the %s", err, tt.want)
			}
		})
	}
}
