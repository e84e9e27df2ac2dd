package testkit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"
)

// DefaultTimeout bounds a wait unless Timeout says otherwise. It is long
// because it is a liveness bound, not a performance assertion: on a
// loaded machine (every module's tests at once, -race) a service may take
// many seconds to start or a job to finish, and a correct test must not
// fail for that; a broken one still fails, saying what it awaited.
const DefaultTimeout = time.Minute

// DefaultInterval is the pause between two checks of a condition.
const DefaultInterval = 20 * time.Millisecond

// ScaleEnv names the environment variable that multiplies every wait's
// timeout, for machines slower than a developer's.
const ScaleEnv = "TESTKIT_TIMEOUT_SCALE"

// deadlineMargin is kept between a wait's end and the test binary's
// deadline, so the wait fails (and says why) before the binary panics.
const deadlineMargin = 5 * time.Second

// Option changes how a wait polls.
type Option func(*waitConfig)

type waitConfig struct {
	timeout  time.Duration
	interval time.Duration
	alive    []func() error
	explain  []func() string
}

// Timeout sets the wait's bound (before TESTKIT_TIMEOUT_SCALE) instead
// of DefaultTimeout.
func Timeout(d time.Duration) Option { return func(c *waitConfig) { c.timeout = d } }

// Interval sets the pause between two checks instead of DefaultInterval.
func Interval(d time.Duration) Option { return func(c *waitConfig) { c.interval = d } }

// While ends the wait at once, failing the test, when alive returns an
// error: e.g. the service whose readiness is awaited has exited (see
// Task.Alive), so waiting longer cannot help.
func While(alive func() error) Option {
	return func(c *waitConfig) { c.alive = append(c.alive, alive) }
}

// Explain adds what explain returns (e.g. a service's log) to the failure
// message of a wait that gives up.
func Explain(explain func() string) Option {
	return func(c *waitConfig) { c.explain = append(c.explain, explain) }
}

// errNotYet is what Eventually's condition reports while it does not hold.
var errNotYet = errors.New("condition not met")

// Eventually polls cond until it returns true. When the deadline passes
// first, or a While option reports an error, it fails the test with what
// (say what is awaited: "the booking's email") and how long it waited.
func Eventually(t testing.TB, what string, cond func() bool, opts ...Option) {
	t.Helper()
	if err := wait(t, cond2err(cond), opts); err != nil {
		t.Fatalf("gave up waiting for %s: %v", what, err)
	}
}

// EventuallyErr polls check until it returns nil. When the deadline passes
// first it fails the test with what, how long it waited and the last error
// check returned: make that error say what was observed ("status 503,
// details map[nats:down]"), so the failure explains itself.
func EventuallyErr(t testing.TB, what string, check func() error, opts ...Option) {
	t.Helper()
	if err := wait(t, check, opts); err != nil {
		t.Fatalf("gave up waiting for %s: %v", what, err)
	}
}

func cond2err(cond func() bool) func() error {
	return func() error {
		if cond() {
			return nil
		}
		return errNotYet
	}
}

// Await polls cond like Eventually, but returns an error instead of
// failing a test: for a goroutine other than the test's own (a fake
// server's handler, a source that holds until the test moves on), which
// must not call t.FailNow. It also ends when ctx does, returning
// context.Cause(ctx).
func Await(ctx context.Context, what string, cond func() bool, opts ...Option) error {
	c := newConfig(opts)
	if err := poll(ctx, Scaled(c.timeout), cond2err(cond), c); err != nil {
		return fmt.Errorf("gave up waiting for %s: %w", what, err)
	}
	return nil
}

func newConfig(opts []Option) waitConfig {
	c := waitConfig{timeout: DefaultTimeout, interval: DefaultInterval}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// wait polls check and returns nil once it passes, or an error saying
// why it gave up.
func wait(t testing.TB, check func() error, opts []Option) error {
	t.Helper()
	c := newConfig(opts)
	return poll(context.Background(), bound(t, Scaled(c.timeout)), check, c)
}

// poll runs check every c.interval until it returns nil, timeout passes,
// a While option reports an error or ctx ends.
func poll(ctx context.Context, timeout time.Duration, check func() error, c waitConfig) error {
	start := time.Now()
	deadline := start.Add(timeout)
	checks := 0
	for {
		checks++
		last := check()
		if last == nil {
			return nil
		}
		for _, alive := range c.alive {
			if err := alive(); err != nil {
				return c.failure(fmt.Errorf("stopped after %s (%d checks): %w; last: %w", since(start), checks, err, last))
			}
		}
		if !time.Now().Before(deadline) {
			return c.failure(fmt.Errorf("not within %s (%d checks); last: %w", timeout, checks, last))
		}
		pause := time.NewTimer(min(c.interval, time.Until(deadline)))
		select {
		case <-ctx.Done():
			pause.Stop()
			return c.failure(fmt.Errorf("stopped after %s (%d checks): %w; last: %w", since(start), checks, context.Cause(ctx), last))
		case <-pause.C:
		}
	}
}

func (c waitConfig) failure(err error) error {
	for _, e := range c.explain {
		err = fmt.Errorf("%w\n%s", err, e())
	}
	return err
}

func since(start time.Time) time.Duration { return time.Since(start).Round(time.Millisecond) }

// Scaled is d multiplied by TESTKIT_TIMEOUT_SCALE when that is a positive
// number, else d. Use it for bounds a test sets itself, such as a context
// deadline around a call that blocks.
func Scaled(d time.Duration) time.Duration {
	return scale(d, os.Getenv(ScaleEnv))
}

func scale(d time.Duration, factor string) time.Duration {
	f, err := strconv.ParseFloat(factor, 64)
	if err != nil || f <= 0 {
		return d
	}
	return time.Duration(float64(d) * f)
}

// deadliner is what *testing.T offers beyond testing.TB.
type deadliner interface {
	Deadline() (time.Time, bool)
}

// bound shortens timeout so that the wait ends deadlineMargin before the
// test binary's deadline, if it has one, but never below one interval.
func bound(t testing.TB, timeout time.Duration) time.Duration {
	d, ok := t.(deadliner)
	if !ok {
		return timeout
	}
	end, ok := d.Deadline()
	if !ok {
		return timeout
	}
	return clamp(timeout, time.Until(end)-deadlineMargin)
}

func clamp(timeout, left time.Duration) time.Duration {
	if left < timeout {
		return max(left, DefaultInterval)
	}
	return timeout
}
