package account

import (
	"testing"
	"time"
)

func TestPolicyAdmit(t *testing.T) {
	t.Parallel()
	p := Policy{Free: 3, Base: time.Second, Max: 8 * time.Second, Reset: time.Minute}
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	type step struct {
		at        time.Duration // since t0
		wantOK    bool
		wantRetry time.Duration
		wantFails int
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{name: "free attempts then doubling back-off capped", steps: []step{
			{at: 0, wantOK: true, wantFails: 1},
			{at: 0, wantOK: true, wantFails: 2},
			{at: 0, wantOK: true, wantFails: 3}, // locks 1s
			{at: 500 * time.Millisecond, wantOK: false, wantRetry: 500 * time.Millisecond, wantFails: 3},
			{at: time.Second, wantOK: true, wantFails: 4},      // locks 2s
			{at: 3 * time.Second, wantOK: true, wantFails: 5},  // locks 4s
			{at: 7 * time.Second, wantOK: true, wantFails: 6},  // locks 8s
			{at: 15 * time.Second, wantOK: true, wantFails: 7}, // capped at 8s
			{at: 22 * time.Second, wantOK: false, wantRetry: time.Second, wantFails: 7},
		}},
		{name: "refused attempts do not extend the lock", steps: []step{
			{at: 0, wantOK: true, wantFails: 1},
			{at: 0, wantOK: true, wantFails: 2},
			{at: 0, wantOK: true, wantFails: 3},
			{at: 100 * time.Millisecond, wantOK: false, wantRetry: 900 * time.Millisecond, wantFails: 3},
			{at: 900 * time.Millisecond, wantOK: false, wantRetry: 100 * time.Millisecond, wantFails: 3},
			{at: time.Second, wantOK: true, wantFails: 4},
		}},
		{name: "quiet period after the lock forgets", steps: []step{
			{at: 0, wantOK: true, wantFails: 1},
			{at: 0, wantOK: true, wantFails: 2},
			{at: 0, wantOK: true, wantFails: 3},
			{at: time.Second + time.Minute + time.Millisecond, wantOK: true, wantFails: 1},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var st ThrottleState
			for i, s := range tt.steps {
				ok, retry := p.Admit(&st, t0.Add(s.at))
				if ok != s.wantOK || retry != s.wantRetry || st.Failures != s.wantFails {
					t.Fatalf("step %d: Admit = %v, %s, failures %d; want %v, %s, %d",
						i, ok, retry, st.Failures, s.wantOK, s.wantRetry, s.wantFails)
				}
			}
		})
	}
}
