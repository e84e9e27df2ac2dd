package testkit

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestGoStopsOnCleanup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		fn        func(ctx context.Context) error
		wantError string // in the cleanup's Errorf; "" for none
	}{
		{
			name: "returns nil on cancellation",
			fn:   func(ctx context.Context) error { <-ctx.Done(); return nil },
		},
		{
			name:      "returns an error on cancellation",
			fn:        func(ctx context.Context) error { <-ctx.Done(); return errors.New("unclean stop") },
			wantError: "stop the service: unclean stop",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := runFake(t, func(tb *fakeT) {
				k := Go(tb, "the service", tt.fn)
				if err := k.Alive(); err != nil {
					tb.Errorf("Alive while running: %v", err)
				}
				if err := k.Err(); err != nil {
					tb.Errorf("Err while running: %v", err)
				}
			})
			f.cleanup()
			got := strings.Join(f.errors, "; ")
			if tt.wantError == "" && got != "" || !strings.Contains(got, tt.wantError) {
				t.Errorf("errors %q, want %q", got, tt.wantError)
			}
		})
	}
}

func TestTaskThatExitsEndsTheWait(t *testing.T) {
	t.Parallel()
	f := runFake(t, func(tb *fakeT) {
		k := Go(tb, "the service", func(context.Context) error { return errors.New("bad config") })
		<-k.Done()
		if err := k.Err(); err == nil || err.Error() != "bad config" {
			tb.Errorf("Err = %v", err)
		}
		Eventually(tb, "readiness", func() bool { return false }, While(k.Alive))
	})
	if !strings.Contains(f.fatal, "the service exited: bad config") {
		t.Errorf("failure %q does not say the service exited", f.fatal)
	}
	if err := f.cleanups; len(err) != 1 {
		t.Fatalf("%d cleanups, want 1", len(err))
	}
	f.cleanup() // Stop again returns the same error
	if len(f.errors) != 1 || !strings.Contains(f.errors[0], "bad config") {
		t.Errorf("cleanup errors %q", f.errors)
	}
}
