package limitreply

import (
	"testing"
	"time"

	"github.com/acube/platform/services/gateway/internal/ratelimit"
)

func TestCeilSeconds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		d    time.Duration
		want int64
	}{
		{name: "negative", d: -time.Second, want: 0},
		{name: "zero", d: 0, want: 0},
		{name: "a nanosecond", d: time.Nanosecond, want: 1},
		{name: "whole", d: 2 * time.Second, want: 2},
		{name: "fraction", d: 2500 * time.Millisecond, want: 3},
	}
	for _, tt := range tests {
		if got := CeilSeconds(tt.d); got != tt.want {
			t.Errorf("%s: CeilSeconds(%v) = %d, want %d", tt.name, tt.d, got, tt.want)
		}
	}
}

func TestAppend(t *testing.T) {
	t.Parallel()
	table, err := ratelimit.Load([]byte("tiers:\n  admin:\n    limits: [\"60/minute\", \"1000/hour\"]\nroutes:\n  GET /x: admin\n"),
		ratelimit.Overrides{}, []string{"GET /x"})
	if err != nil {
		t.Fatal(err)
	}
	tier := table.Tier("admin")
	now := time.Unix(1_800_000_000, 0)
	tests := []struct {
		name    string
		late    time.Duration // after now
		windows [ratelimit.MaxWindows]ratelimit.WindowState
		want    [len(Names)]string
	}{
		{
			name: "the first window is the tightest",
			windows: [ratelimit.MaxWindows]ratelimit.WindowState{
				{Remaining: 7, ResetAfter: 2500 * time.Millisecond}, {Remaining: 900, ResetAfter: time.Minute}},
			want: [...]string{"60", "7", "1800000003", `"admin-minute";q=60;w=60, "admin-hour";q=1000;w=3600`,
				`"admin-minute";r=7;t=3, "admin-hour";r=900;t=60`},
		},
		{
			name: "the second window is the tightest",
			windows: [ratelimit.MaxWindows]ratelimit.WindowState{
				{Remaining: 59, ResetAfter: time.Second}, {Remaining: 12, ResetAfter: 10 * time.Minute}},
			want: [...]string{"1000", "12", "1800000600", `"admin-minute";q=60;w=60, "admin-hour";q=1000;w=3600`,
				`"admin-minute";r=59;t=1, "admin-hour";r=12;t=600`},
		},
		{
			name: "a reset on a whole second is not rounded up", late: 500 * time.Millisecond,
			windows: [ratelimit.MaxWindows]ratelimit.WindowState{
				{Remaining: 7, ResetAfter: 1500 * time.Millisecond}, {Remaining: 900, ResetAfter: time.Minute}},
			want: [...]string{"60", "7", "1800000002", `"admin-minute";q=60;w=60, "admin-hour";q=1000;w=3600`,
				`"admin-minute";r=7;t=2, "admin-hour";r=900;t=60`},
		},
		{
			name: "a nanosecond past a whole second is", late: 500*time.Millisecond + 1,
			windows: [ratelimit.MaxWindows]ratelimit.WindowState{
				{Remaining: 7, ResetAfter: 1500 * time.Millisecond}, {Remaining: 900, ResetAfter: time.Minute}},
			want: [...]string{"60", "7", "1800000003", `"admin-minute";q=60;w=60, "admin-hour";q=1000;w=3600`,
				`"admin-minute";r=7;t=2, "admin-hour";r=900;t=60`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := ratelimit.Decision{Tier: tier, Allowed: true, Backend: ratelimit.BackendRedis, Windows: tt.windows}
			buf, ends := Append([]byte("prefix"), &d, now.Add(tt.late))
			from := len("prefix")
			wantLines := "prefix"
			for i, name := range Names {
				if got := string(buf[from:ends[i]]); got != tt.want[i] {
					t.Errorf("%s: %q, want %q", name, got, tt.want[i])
				}
				from = ends[i]
				wantLines += name + ": " + tt.want[i] + "\r\n"
			}
			if got := string(AppendLines([]byte("prefix"), &d, now.Add(tt.late))); got != wantLines {
				t.Errorf("AppendLines:\n%q, want\n%q", got, wantLines)
			}
		})
	}
}
