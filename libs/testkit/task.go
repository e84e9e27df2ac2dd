package testkit

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// Task is a function running in the background for one test, such as a
// service's run(ctx, …) as main calls it.
type Task struct {
	what   string
	cancel context.CancelFunc
	done   chan struct{}
	err    error // valid once done is closed

	stopOnce sync.Once
	stopErr  error
}

// Go runs fn in a goroutine with a context that Stop cancels, as SIGTERM
// would. When the test ends the task is stopped, and the test fails if fn
// returned an error or did not return within the wait bound. what names
// the task in failures ("the admin service").
func Go(t testing.TB, what string, fn func(ctx context.Context) error) *Task {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	k := &Task{what: what, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(k.done)
		k.err = fn(ctx)
	}()
	t.Cleanup(func() {
		if err := k.Stop(); err != nil {
			t.Errorf("stop %s: %v", what, err)
		}
	})
	return k
}

// Done is closed once fn has returned.
func (k *Task) Done() <-chan struct{} { return k.done }

// Err is what fn returned; nil while it runs.
func (k *Task) Err() error {
	select {
	case <-k.done:
		return k.err
	default:
		return nil
	}
}

// Alive returns nil while fn runs, and an error saying it ended (and
// with what) once it has returned: pass it to While so that a wait for
// the task's readiness fails at once when it exits.
func (k *Task) Alive() error {
	select {
	case <-k.done:
		return fmt.Errorf("%s exited: %v", k.what, k.err)
	default:
		return nil
	}
}

// Stop cancels fn's context and waits for it to return, at most the wait
// bound (DefaultTimeout, scaled). It returns fn's error, or an error when
// fn did not return in time. Calling it again returns the same result.
func (k *Task) Stop() error {
	k.stopOnce.Do(func() {
		k.cancel()
		select {
		case <-k.done:
			k.stopErr = k.err
		case <-time.After(Scaled(DefaultTimeout)):
			k.stopErr = fmt.Errorf("%s did not return within %s of cancellation", k.what, Scaled(DefaultTimeout))
		}
	})
	return k.stopErr
}
