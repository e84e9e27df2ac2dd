package testkit

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestEventually(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		run       func(tb *fakeT)
		wantFatal []string // substrings of the failure; none means it passed
	}{
		{
			name: "holds at once",
			run:  func(tb *fakeT) { Eventually(tb, "truth", func() bool { return true }) },
		},
		{
			name: "holds on the third check",
			run: func(tb *fakeT) {
				var n atomic.Int32
				Eventually(tb, "three checks", func() bool { return n.Add(1) == 3 }, Interval(time.Millisecond))
			},
		},
		{
			name: "never holds",
			run: func(tb *fakeT) {
				Eventually(tb, "the impossible", func() bool { return false }, Timeout(30*time.Millisecond), Interval(time.Millisecond))
			},
			wantFatal: []string{"gave up waiting for the impossible", "not within 30ms", "condition not met"},
		},
		{
			name: "the last error is reported",
			run: func(tb *fakeT) {
				var n atomic.Int32
				EventuallyErr(tb, "a reply", func() error {
					return errors.New("status 503 #" + string(rune('0'+min(n.Add(1), 9))))
				}, Timeout(20*time.Millisecond), Interval(time.Millisecond))
			},
			wantFatal: []string{"gave up waiting for a reply", "last: status 503 #"},
		},
		{
			name: "EventuallyErr passes on nil",
			run: func(tb *fakeT) {
				var n atomic.Int32
				EventuallyErr(tb, "nil", func() error {
					if n.Add(1) < 2 {
						return errors.New("not yet")
					}
					return nil
				}, Interval(time.Millisecond))
			},
		},
		{
			name: "a dead task ends the wait at once",
			run: func(tb *fakeT) {
				EventuallyErr(tb, "readiness", func() error { return errors.New("connection refused") },
					While(func() error { return errors.New("service exited: boom") }),
					Explain(func() string { return "the log says why" }))
			},
			wantFatal: []string{"gave up waiting for readiness", "stopped after", "service exited: boom", "connection refused", "the log says why"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			f := runFake(t, tt.run)
			if tt.wantFatal == nil {
				if f.fatal != "" {
					t.Fatalf("failed: %s", f.fatal)
				}
				return
			}
			for _, w := range tt.wantFatal {
				if !strings.Contains(f.fatal, w) {
					t.Errorf("failure %q lacks %q", f.fatal, w)
				}
			}
			if took := time.Since(start); took > DefaultTimeout {
				t.Errorf("the wait took %s, longer than the default bound", took)
			}
		})
	}
}

func TestScale(t *testing.T) {
	t.Parallel()
	tests := []struct {
		factor string
		want   time.Duration
	}{
		{factor: "", want: 10 * time.Second},
		{factor: "3", want: 30 * time.Second},
		{factor: "0.5", want: 5 * time.Second},
		{factor: "0", want: 10 * time.Second},
		{factor: "-2", want: 10 * time.Second},
		{factor: "fast", want: 10 * time.Second},
	}
	for _, tt := range tests {
		if got := scale(10*time.Second, tt.factor); got != tt.want {
			t.Errorf("scale(10s, %q) = %s, want %s", tt.factor, got, tt.want)
		}
	}
}

func TestScaledReadsTheEnvironment(t *testing.T) {
	t.Setenv(ScaleEnv, "2")
	if got := Scaled(time.Second); got != 2*time.Second {
		t.Errorf("Scaled(1s) with %s=2 = %s, want 2s", ScaleEnv, got)
	}
}

func TestClamp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		timeout, left time.Duration
		want          time.Duration
	}{
		{name: "plenty of time left", timeout: 30 * time.Second, left: time.Minute, want: 30 * time.Second},
		{name: "the binary ends first", timeout: 30 * time.Second, left: 10 * time.Second, want: 10 * time.Second},
		{name: "no time left still checks once", timeout: 30 * time.Second, left: -time.Second, want: DefaultInterval},
	}
	for _, tt := range tests {
		if got := clamp(tt.timeout, tt.left); got != tt.want {
			t.Errorf("%s: clamp(%s, %s) = %s, want %s", tt.name, tt.timeout, tt.left, got, tt.want)
		}
	}
}

// TestBoundFollowsTheTestDeadline: under go test's -timeout (always set,
// 10 minutes by default) a wait never outlives the binary.
func TestBoundFollowsTheTestDeadline(t *testing.T) {
	t.Parallel()
	end, ok := t.Deadline()
	if !ok {
		if got := bound(t, time.Hour); got != time.Hour {
			t.Errorf("without a deadline: bound(1h) = %s", got)
		}
		return
	}
	if got := bound(t, 1000*time.Hour); got > time.Until(end) {
		t.Errorf("bound(1000h) = %s, past the binary's deadline in %s", got, time.Until(end))
	}
	if got := bound(&fakeT{}, time.Hour); got != time.Hour {
		t.Errorf("a TB without Deadline: bound(1h) = %s", got)
	}
}

func TestAwait(t *testing.T) {
	t.Parallel()
	cancelled, cancel := context.WithCancelCause(context.Background())
	cancel(errors.New("the test moved on"))
	var n atomic.Int32
	tests := []struct {
		name    string
		ctx     context.Context
		cond    func() bool
		opts    []Option
		wantErr string // "" for nil
	}{
		{name: "holds", ctx: context.Background(), cond: func() bool { return n.Add(1) >= 3 }, opts: []Option{Interval(time.Millisecond)}},
		{name: "times out", ctx: context.Background(), cond: func() bool { return false },
			opts: []Option{Timeout(10 * time.Millisecond), Interval(time.Millisecond)}, wantErr: "gave up waiting for it: not within 10ms"},
		{name: "context ends", ctx: cancelled, cond: func() bool { return false }, wantErr: "the test moved on"},
	}
	for _, tt := range tests {
		err := Await(tt.ctx, "it", tt.cond, tt.opts...)
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%s: Await = %v, want %q", tt.name, err, tt.wantErr)
		}
	}
}
