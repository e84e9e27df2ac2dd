package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// DeclarerConfig lists what a Declarer declares and how it retries.
// Zero values take the defaults in brackets.
type DeclarerConfig struct {
	// Specs are the streams the service declares: those it owns, AUDIT
	// when it publishes audit events, DEADLETTER when it consumes.
	Specs []Spec
	// Buckets are the Object Store buckets the service owns (BucketSpec),
	// declared with its streams and counted in nats_streams_declared.
	Buckets []BucketSpec
	// MinBackoff is the first wait after a failed attempt; it doubles up
	// to MaxBackoff [200ms].
	MinBackoff time.Duration
	// MaxBackoff caps the wait between attempts [5s].
	MaxBackoff time.Duration
	// Timeout bounds one declaration [5s].
	Timeout time.Duration
}

func (c *DeclarerConfig) setDefaults() {
	if c.MinBackoff <= 0 {
		c.MinBackoff = 200 * time.Millisecond
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 5 * time.Second
	}
	if c.Timeout <= 0 {
		c.Timeout = 5 * time.Second
	}
}

// Validate reports a configuration that cannot work.
func (c DeclarerConfig) Validate() error {
	if len(c.Specs) == 0 {
		return errors.New("stream declarer: no streams to declare")
	}
	for _, s := range c.Specs {
		if s.Name == "" || len(s.Subjects) == 0 {
			return fmt.Errorf("stream declarer: stream %q needs a name and subjects", s.Name)
		}
	}
	for _, b := range c.Buckets {
		if _, err := b.config(); err != nil {
			return fmt.Errorf("stream declarer: %w", err)
		}
	}
	return nil
}

// Declarer declares a service's streams in the background, retrying while
// NATS is unreachable, so a service starts, and serves HTTP, while NATS is
// down (DESIGN §4): its events wait in the outbox and its consumers bind
// once the streams exist. It also exports the connection's state as the
// nats_connected gauge and, for /readyz, as details that never fail
// readiness.
type Declarer struct {
	nc   *nats.Conn
	js   jetstream.JetStream
	log  *slog.Logger
	cfg  DeclarerConfig
	done chan struct{} // closed once every stream is declared

	mu      sync.Mutex
	lastErr error

	declared prometheus.Gauge
}

// NewDeclarer builds a declarer over the connection and registers its
// gauges (nats_connected, nats_streams_declared) with reg.
func NewDeclarer(nc *nats.Conn, js jetstream.JetStream, reg prometheus.Registerer, log *slog.Logger, cfg DeclarerConfig) (*Declarer, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d := &Declarer{nc: nc, js: js, cfg: cfg, done: make(chan struct{}),
		log: log.With("component", "stream_declarer"),
		declared: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "nats_streams_declared",
			Help: "1 once every stream this service declares exists, 0 while the declarer still retries.",
		}),
	}
	connected := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "nats_connected",
		Help: "1 while the connection to NATS is up, 0 while it is down (events wait in the outbox; HTTP is served).",
	}, func() float64 {
		if nc.IsConnected() {
			return 1
		}
		return 0
	})
	for _, c := range []prometheus.Collector{connected, d.declared} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register stream declarer metrics: %w", err)
		}
	}
	return d, nil
}

// Run declares every stream, retrying with back-off until all exist, and
// returns nil then or when ctx ends; it returns an error only for a
// declaration that retrying cannot fix (ErrNarrowing). Declarations are
// idempotent, so every replica of a service runs one.
func (d *Declarer) Run(ctx context.Context) error {
	pending, buckets := d.cfg.Specs, d.cfg.Buckets
	wait := d.cfg.MinBackoff
	for attempt := 1; ; attempt++ {
		var err error
		if pending, err = d.declare(ctx, pending); err != nil {
			return err
		}
		if buckets, err = d.declareBuckets(ctx, buckets); err != nil {
			return err
		}
		if len(pending) == 0 && len(buckets) == 0 {
			d.declared.Set(1)
			close(d.done)
			d.log.Info("streams declared", "attempts", attempt)
			return nil
		}
		if ctx.Err() != nil {
			return nil
		}
		if attempt == 1 {
			d.log.Warn("streams not declared yet; retrying in the background", "error", d.err().Error())
		} else {
			d.log.Debug("streams not declared yet; retrying", "attempt", attempt, "error", d.err().Error())
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		wait = min(2*wait, d.cfg.MaxBackoff)
	}
}

// declare tries each spec once and returns those still missing. While the
// connection is down it tries none: the request would only wait out its
// timeout. A declaration that would narrow an existing stream is returned
// as an error: retrying cannot fix it, and a service must not run on a
// stream other than the one its code declares without someone deciding so
// (Spec.AllowShrink).
func (d *Declarer) declare(ctx context.Context, specs []Spec) ([]Spec, error) {
	if !d.nc.IsConnected() {
		d.setErr(errors.New("nats not connected"))
		return specs, nil
	}
	var missing []Spec
	for _, spec := range specs {
		actx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
		_, err := Ensure(actx, d.js, spec)
		cancel()
		if errors.Is(err, ErrNarrowing) {
			d.setErr(err)
			return nil, err
		}
		if err != nil {
			d.setErr(err)
			missing = append(missing, spec)
		}
	}
	return missing, nil
}

// declareBuckets is declare for buckets.
func (d *Declarer) declareBuckets(ctx context.Context, specs []BucketSpec) ([]BucketSpec, error) {
	if len(specs) == 0 || !d.nc.IsConnected() {
		return specs, nil
	}
	var missing []BucketSpec
	for _, spec := range specs {
		actx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
		err := EnsureBucket(actx, d.js, spec)
		cancel()
		if errors.Is(err, ErrNarrowing) {
			d.setErr(err)
			return nil, err
		}
		if err != nil {
			d.setErr(err)
			missing = append(missing, spec)
		}
	}
	return missing, nil
}

// Declared is closed once every stream exists.
func (d *Declarer) Declared() <-chan struct{} { return d.done }

// Connected reports whether NATS is connected; a /readyz detail.
func (d *Declarer) Connected(context.Context) error { return Ready(d.nc) }

// Streams reports whether every stream has been declared, with the last
// failure while not; a /readyz detail.
func (d *Declarer) Streams(context.Context) error {
	select {
	case <-d.done:
		return nil
	default:
		return fmt.Errorf("streams not declared yet: %w", d.err())
	}
}

func (d *Declarer) setErr(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.lastErr = err
}

func (d *Declarer) err() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.lastErr == nil {
		return errors.New("first attempt running")
	}
	return d.lastErr
}
