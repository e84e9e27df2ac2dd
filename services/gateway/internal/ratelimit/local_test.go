package ratelimit

import (
	"log/slog"
	"runtime"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/acube/platform/libs/testkit"
)

func mustTier(t testing.TB, name, limits string) *Tier {
	t.Helper()
	windows, err := ParseWindows(limits)
	if err != nil {
		t.Fatal(err)
	}
	tier, err := newTier(name, windows, FailLocal, false)
	if err != nil {
		t.Fatal(err)
	}
	return tier
}

func TestLocalSeedBurst(t *testing.T) {
	t.Parallel()
	clk := testkit.NewClock(time.Unix(1_800_000_000, 0))
	l := NewLocal(clk.Now, 0)
	tier := mustTier(t, "public", "10/minute,30/hour")
	for i := range 15 {
		d := l.Allow(tier, "POST /api/sessions/book", "203.0.113.7")
		if want := i < 10; d.Allowed != want {
			t.Fatalf("request %d: allowed %v, want %v", i+1, d.Allowed, want)
		}
		if i < 10 {
			if got, want := d.Windows[0].Remaining, 9-i; got != want {
				t.Errorf("request %d: minute remaining %d, want %d", i+1, got, want)
			}
			if got, want := d.Windows[1].Remaining, 29-i; got != want {
				t.Errorf("request %d: hour remaining %d, want %d", i+1, got, want)
			}
		} else if d.Windows[0].RetryAfter != 6*time.Second || d.Blocking() != 0 {
			t.Errorf("request %d: retry after %v (window %d), want 6s on the minute window", i+1, d.Windows[0].RetryAfter, d.Blocking())
		}
	}
	if d := l.Allow(tier, "POST /api/sessions/book", "203.0.113.8"); !d.Allowed {
		t.Error("another client shares the first one's quota")
	}
	if d := l.Allow(tier, "POST /api/contact", "203.0.113.7"); !d.Allowed {
		t.Error("another route shares the first one's quota")
	}
	clk.Advance(6 * time.Second)
	if d := l.Allow(tier, "POST /api/sessions/book", "203.0.113.7"); !d.Allowed {
		t.Error("after one emission interval one more request should pass")
	}
}

// TestLocalRefusedChargesNone: once the hour window is spent, requests the
// minute window would allow are refused and do not eat the minute quota.
func TestLocalRefusedChargesNone(t *testing.T) {
	t.Parallel()
	clk := testkit.NewClock(time.Unix(1_800_000_000, 0))
	l := NewLocal(clk.Now, 0)
	tier := mustTier(t, "t", "5/minute,6/hour")
	for range 5 {
		l.Allow(tier, "r", "c")
	}
	clk.Advance(time.Minute) // minute window full again, hour has 1 left
	if d := l.Allow(tier, "r", "c"); !d.Allowed {
		t.Fatal("6th request within the hour should pass")
	}
	for i := range 5 {
		d := l.Allow(tier, "r", "c")
		if d.Allowed {
			t.Fatalf("request %d past the hour quota allowed", i+7)
		}
		if d.Blocking() != 1 {
			t.Errorf("blocking window = %d, want the hour", d.Blocking())
		}
		if got := d.Windows[0].Remaining; got != 4 {
			t.Errorf("refused request %d: minute remaining %d, want 4 (uncharged)", i+1, got)
		}
	}
}

func TestLocalSweepsAndCaps(t *testing.T) {
	t.Parallel()
	clk := testkit.NewClock(time.Unix(1_800_000_000, 0))
	l := NewLocal(clk.Now, localShards*8)
	tier := mustTier(t, "t", "1/second")
	for i := range 5000 {
		l.Allow(tier, "r", string(rune('a'+i%26))+string(rune(i)))
	}
	if n := l.Len(); n > localShards*8 {
		t.Errorf("tracked %d pairs, want at most %d", n, localShards*8)
	}
	clk.Advance(time.Minute)
	for i := range 2000 {
		l.Allow(tier, "r2", string(rune(i)))
	}
	if n := l.Len(); n > localShards*8 {
		t.Errorf("after expiry tracked %d pairs, want at most %d", n, localShards*8)
	}
}

func TestDecisionRefused(t *testing.T) {
	t.Parallel()
	tier := mustTier(t, "t", "1/minute")
	shadow := mustTier(t, "s", "1/minute")
	shadow.Shadow = true
	tests := []struct {
		name string
		d    Decision
		want bool
	}{
		{name: "allowed", d: Decision{Tier: tier, Allowed: true, Backend: BackendRedis}, want: false},
		{name: "refused", d: Decision{Tier: tier, Backend: BackendRedis}, want: true},
		{name: "shadow refused", d: Decision{Tier: shadow, Backend: BackendLocal}, want: false},
		{name: "failed closed", d: Decision{Tier: tier, Backend: BackendClosed}, want: true},
		{name: "failed open", d: Decision{Tier: tier, Allowed: true, Backend: BackendOpen}, want: false},
		{name: "no tier", d: Decision{Allowed: true}, want: false},
	}
	for _, tt := range tests {
		if got := tt.d.Refused(); got != tt.want {
			t.Errorf("%s: Refused() = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func prometheusRegistry() *prometheus.Registry { return prometheus.NewRegistry() }

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

func maxProcs() int { return runtime.GOMAXPROCS(0) }
