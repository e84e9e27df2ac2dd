// Package lifecycle runs a service's parts and stops them in one order,
// inside one grace period, the same way in every service:
//
//	not ready → HTTP shutdown → consumers (and workers) drain → relay stops
//	→ NATS drain, awaited until the connection is closed → pool closes
//
// Readiness turns false first so balancers stop sending while the listener
// still answers; HTTP drains before the consumers stop so no request finds
// its background half gone; the relay outlives the consumers because their
// handlers write outbox rows; NATS drains after the relay so the acks and
// publishes of the last messages reach the server; the pool closes last
// because every other part uses it. SHUTDOWN_GRACE bounds the whole
// sequence, not each stage: a stage that overruns leaves the later ones
// only what remains, and the process still exits inside the orchestrator's
// termination grace.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/acube/platform/libs/web"
)

// Task is a part that runs until its context ends and then returns once
// the work in its hands is done: consume.Runner.Run, outbox.Relay.Run,
// stream.Declarer.Run, a janitor loop. An error returned before its
// context ended stops the whole service.
type Task func(ctx context.Context) error

// Stage names a step of the shutdown, in order.
type Stage string

// The shutdown stages, in the order they run.
const (
	StageNotReady  Stage = "not_ready"
	StageHTTP      Stage = "http"
	StageConsumers Stage = "consumers"
	StageRelay     Stage = "relay"
	StageNATS      Stage = "nats"
	StagePool      Stage = "pool"
)

// Server is what the lifecycle serves and drains: an *http.Server, or
// another server with its Serve, Shutdown and Close (the gateway's
// fasthttp data path). Serve returns once Shutdown or Close was called,
// with nil or http.ErrServerClosed; Shutdown stops accepting and waits
// for the requests in flight until its context ends.
type Server interface {
	Serve(ln net.Listener) error
	Shutdown(ctx context.Context) error
	Close() error
}

// Config is what a service consists of. Zero values take the defaults in
// brackets; nil parts are left out (the gateway has no NATS or pool).
type Config struct {
	// Server serves the service's API and probes; required.
	Server Server
	// Listener is where Server accepts; nil listens on the Addr of an
	// *http.Server (required for other servers).
	Listener net.Listener
	// Probes turn /readyz to 503 before the server stops accepting;
	// required.
	Probes *web.Probes
	// Declare runs first, in the background, and returns once the
	// service's streams exist (stream.Declarer.Run). The consumers start
	// after it returned nil, so they bind to streams that exist; nil
	// starts them at once.
	Declare Task
	// Consumers read events. They stop after HTTP has drained, finishing
	// the messages in hand.
	Consumers []Task
	// Workers are the other background loops (janitors, export workers,
	// signal handlers). They start at once and stop with the consumers.
	Workers []Task
	// Relay publishes the outbox. It stops after the consumers, whose
	// handlers write outbox rows.
	Relay Task
	// NATS drains the connection after the relay and returns once it is
	// closed, so the last acks and publishes reach the server, or when
	// its context (the rest of the grace) ends (stream.Drain).
	NATS func(ctx context.Context) error
	// Pool is closed last (a *pgxpool.Pool). The lifecycle takes the two
	// as a function and an interface so a service without them, the
	// gateway, does not depend on their drivers.
	Pool interface{ Close() }
	// Grace bounds the whole shutdown, from not ready to the pool closed
	// [20s].
	Grace time.Duration
	// Log receives one line per stage.
	Log *slog.Logger
	// OnStage, when set, is called as each stage begins, before its work:
	// tests look at the parts in between.
	OnStage func(Stage)
}

func (c *Config) setDefaults() {
	if c.Grace <= 0 {
		c.Grace = 20 * time.Second
	}
	if c.OnStage == nil {
		c.OnStage = func(Stage) {}
	}
}

// Validate reports a configuration that cannot run.
func (c Config) Validate() error {
	var errs []error
	if c.Server == nil {
		errs = append(errs, errors.New("lifecycle: a server is required"))
	}
	if c.Probes == nil {
		errs = append(errs, errors.New("lifecycle: probes are required"))
	}
	if c.Log == nil {
		errs = append(errs, errors.New("lifecycle: a logger is required"))
	}
	return errors.Join(errs...)
}

// Lifecycle runs and stops one service.
type Lifecycle struct {
	cfg Config
}

// New checks cfg.
func New(cfg Config) (*Lifecycle, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Lifecycle{cfg: cfg}, nil
}

// Run serves until ctx ends or a part fails, then shuts down in order
// within Grace. It returns the part's failure and every stage that did not
// finish in time; nil after a clean stop.
func (l *Lifecycle) Run(ctx context.Context) error {
	cfg := l.cfg
	ln := cfg.Listener
	if ln == nil {
		hs, ok := cfg.Server.(*http.Server)
		if !ok {
			return errors.New("lifecycle: a server other than *http.Server needs a Listener")
		}
		var err error
		if ln, err = net.Listen("tcp", hs.Addr); err != nil {
			return fmt.Errorf("listen on %s: %w", hs.Addr, err)
		}
	}
	cfg.Log.Info("http server listening", "addr", ln.Addr().String())

	// The parts run on contexts of their own, cancelled stage by stage,
	// not on ctx: a signal starts the shutdown, it does not stop them all.
	background := context.WithoutCancel(ctx)
	consumerCtx, stopConsumers := context.WithCancel(background)
	defer stopConsumers()
	relayCtx, stopRelay := context.WithCancel(background)
	defer stopRelay()

	failed := make(chan error, 2+len(cfg.Consumers)+len(cfg.Workers))
	serveDone := make(chan error, 1)
	go func() { serveDone <- cfg.Server.Serve(ln) }()

	var consumers, relay sync.WaitGroup
	consumers.Go(func() { l.runConsumers(consumerCtx, failed) })
	for _, w := range cfg.Workers {
		consumers.Go(func() { report(consumerCtx, failed, w(consumerCtx)) })
	}
	if cfg.Relay != nil {
		relay.Go(func() { report(relayCtx, failed, cfg.Relay(relayCtx)) })
	}

	var errs []error
	select {
	case <-ctx.Done():
		cfg.Log.Info("shutting down", "cause", context.Cause(ctx).Error())
	case err := <-serveDone:
		serveDone <- err
		errs = append(errs, fmt.Errorf("http server: %w", err))
		cfg.Log.Error("shutting down: http server failed", "error", err.Error())
	case err := <-failed:
		errs = append(errs, err)
		cfg.Log.Error("shutting down: a part failed", "error", err.Error())
	}

	start := time.Now()
	sctx, cancel := context.WithTimeout(background, cfg.Grace)
	defer cancel()
	stage := func(s Stage) {
		cfg.Log.Info("shutdown stage", "stage", string(s), "elapsed_ms", time.Since(start).Milliseconds())
		cfg.OnStage(s)
	}

	stage(StageNotReady)
	cfg.Probes.Shutdown()

	stage(StageHTTP)
	if err := cfg.Server.Shutdown(sctx); err != nil {
		errs = append(errs, fmt.Errorf("drain http server: %w", err))
		_ = cfg.Server.Close()
	}
	if err := <-serveDone; err != nil && !errors.Is(err, http.ErrServerClosed) {
		errs = append(errs, fmt.Errorf("http server: %w", err))
	}

	stage(StageConsumers)
	stopConsumers()
	if !wait(sctx, &consumers) {
		errs = append(errs, errors.New("consumers and workers still running when the shutdown grace ended"))
	}

	stage(StageRelay)
	stopRelay()
	if !wait(sctx, &relay) {
		errs = append(errs, errors.New("outbox relay still running when the shutdown grace ended"))
	}

	if cfg.NATS != nil {
		stage(StageNATS)
		if err := cfg.NATS(sctx); err != nil {
			errs = append(errs, err)
		}
	}

	if cfg.Pool != nil {
		stage(StagePool)
		closed := make(chan struct{})
		go func() { cfg.Pool.Close(); close(closed) }()
		select {
		case <-closed:
		case <-sctx.Done():
			errs = append(errs, errors.New("database pool still in use when the shutdown grace ended"))
		}
	}

	// Failures of parts while they stopped are reported too.
	for len(failed) > 0 {
		errs = append(errs, <-failed)
	}
	err := errors.Join(errs...)
	cfg.Log.Info("stopped", "shutdown_ms", time.Since(start).Milliseconds(), "clean", err == nil)
	return err
}

// runConsumers waits for the streams, then runs every consumer until ctx
// ends.
func (l *Lifecycle) runConsumers(ctx context.Context, failed chan<- error) {
	if d := l.cfg.Declare; d != nil {
		if err := d(ctx); err != nil {
			report(ctx, failed, fmt.Errorf("declare streams: %w", err))
			return
		}
	}
	if ctx.Err() != nil {
		return
	}
	var wg sync.WaitGroup
	for _, c := range l.cfg.Consumers {
		wg.Go(func() { report(ctx, failed, c(ctx)) })
	}
	wg.Wait()
}

// report passes a part's failure on; a part that returns because its
// context ended has not failed.
func report(ctx context.Context, failed chan<- error, err error) {
	if err != nil && ctx.Err() == nil {
		failed <- err
	}
}

// wait waits for wg or until ctx ends; false means ctx ended first.
func wait(ctx context.Context, wg *sync.WaitGroup) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}
