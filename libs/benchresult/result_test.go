package benchresult

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestResultLineRoundTrip(t *testing.T) {
	in := Result{Area: "relay", Name: "outbox relay", Value: 21000, Unit: "events/s", Ref: "nats bench", RefValue: 60000, Min: 0.3,
		Rounds: 5, RatioMedian: 0.35, RatioMin: 0.33, RatioMax: 0.37}
	var buf bytes.Buffer
	if err := Print(&buf, in); err != nil {
		t.Fatal(err)
	}
	got, ok, err := Parse(buf.String())
	if err != nil || !ok || got != in {
		t.Fatalf("Parse(%q) = %+v, %v, %v", buf.String(), got, ok, err)
	}
	if _, ok, _ := Parse("booking 212 bookings/s"); ok {
		t.Error("an ordinary line parsed as a result")
	}
	if _, ok, err := Parse("benchresult {not json"); !ok || err == nil {
		t.Errorf("a broken result line: ok %v, err %v; want ok and an error", ok, err)
	}
}

func TestVerdictAndTarget(t *testing.T) {
	tests := []struct {
		name       string
		r          Result
		want       string
		wantTarget string
	}{
		{name: "ratio met", r: Result{Value: 95, RefValue: 100, Min: 0.9}, want: "PASS", wantTarget: "≥ 0.9×"},
		{name: "ratio missed", r: Result{Value: 80, RefValue: 100, Min: 0.9}, want: "FAIL", wantTarget: "≥ 0.9×"},
		{name: "median ratio decides, not the medians' ratio", r: Result{Value: 80, RefValue: 100, Min: 0.9, Rounds: 5, RatioMedian: 0.95, RatioMin: 0.9, RatioMax: 1}, want: "PASS", wantTarget: "≥ 0.9×"},
		{name: "cost ratio at most", r: Result{Value: 13, RefValue: 10, Max: 1.2}, want: "FAIL", wantTarget: "≤ 1.2×"},
		{name: "latency met", r: Result{Value: 40, Unit: "ms", Max: 50}, want: "PASS", wantTarget: "≤ 50 ms"},
		{name: "latency missed", r: Result{Value: 60, Unit: "ms", Max: 50}, want: "FAIL", wantTarget: "≤ 50 ms"},
		{name: "no target", r: Result{Value: 1}, want: "", wantTarget: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.r.Verdict(); got != tt.want {
				t.Errorf("Verdict = %q, want %q", got, tt.want)
			}
			if got := tt.r.Target(); got != tt.wantTarget {
				t.Errorf("Target = %q, want %q", got, tt.wantTarget)
			}
		})
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		name string
		in   []float64
		want float64
	}{
		{name: "none", in: nil, want: 0},
		{name: "one", in: []float64{3}, want: 3},
		{name: "odd, unsorted", in: []float64{5, 1, 4, 2, 3}, want: 3},
		{name: "even: mean of the middle two", in: []float64{4, 1, 3, 2}, want: 2.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Median(tt.in); got != tt.want {
				t.Errorf("Median(%v) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestMedianOfDurations(t *testing.T) {
	in := []time.Duration{3 * time.Millisecond, time.Millisecond, 2 * time.Millisecond, 4 * time.Millisecond}
	if got, want := Median(in), 2500*time.Microsecond; got != want {
		t.Errorf("Median(%v) = %v, want %v", in, got, want)
	}
	if in[0] != 3*time.Millisecond {
		t.Error("Median sorted its argument")
	}
}

func TestLoadAverage(t *testing.T) {
	got := LoadAverage()
	if _, err := os.Stat("/proc/loadavg"); err != nil {
		if got != "unknown" {
			t.Errorf("LoadAverage() = %q without /proc/loadavg, want unknown", got)
		}
		return
	}
	f := strings.Fields(got)
	if len(f) != 3 {
		t.Fatalf("LoadAverage() = %q, want three numbers", got)
	}
	for _, v := range f {
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			t.Errorf("LoadAverage() = %q: %v", got, err)
		}
	}
}

func TestFromRoundsSpreadAndWarning(t *testing.T) {
	tests := []struct {
		name         string
		values, refs []float64
		wantRatio    float64
		wantMin      float64
		wantMax      float64
		wantSpread   float64
		wantUnsteady bool
	}{
		{name: "steady", values: []float64{95, 100, 105, 98, 102}, refs: []float64{100, 100, 100, 100, 100},
			wantRatio: 1, wantMin: 0.95, wantMax: 1.05, wantSpread: 0.05},
		{name: "one round far off", values: []float64{100, 100, 130, 100, 100}, refs: []float64{100, 100, 100, 100, 100},
			wantRatio: 1, wantMin: 1, wantMax: 1.3, wantSpread: 0.3, wantUnsteady: true},
		{name: "low side decides", values: []float64{80, 100, 100}, refs: []float64{100, 100, 100},
			wantRatio: 1, wantMin: 0.8, wantMax: 1, wantSpread: 0.2, wantUnsteady: true},
		{name: "just inside ±15 %", values: []float64{86, 100, 114}, refs: []float64{100, 100, 100},
			wantRatio: 1, wantMin: 0.86, wantMax: 1.14, wantSpread: 0.14},
		{name: "a single round cannot be trusted", values: []float64{100}, refs: []float64{50},
			wantRatio: 2, wantMin: 2, wantMax: 2, wantSpread: 0, wantUnsteady: true},
		{name: "zero reference left out", values: []float64{100, 100, 100}, refs: []float64{0, 50, 50},
			wantRatio: 2, wantMin: 2, wantMax: 2, wantSpread: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Result{Name: tt.name}.FromRounds(tt.values, tt.refs)
			near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
			if !near(r.Ratio(), tt.wantRatio) || !near(r.RatioMin, tt.wantMin) || !near(r.RatioMax, tt.wantMax) {
				t.Errorf("ratio %v (%v–%v), want %v (%v–%v)", r.Ratio(), r.RatioMin, r.RatioMax, tt.wantRatio, tt.wantMin, tt.wantMax)
			}
			if !near(r.Spread(), tt.wantSpread) {
				t.Errorf("Spread = %v, want %v", r.Spread(), tt.wantSpread)
			}
			if got := r.Unsteady(); got != tt.wantUnsteady {
				t.Errorf("Unsteady = %v, want %v", got, tt.wantUnsteady)
			}
		})
	}
	if (Result{Value: 5, Unit: "ms", Max: 10}).Unsteady() {
		t.Error("an absolute figure is reported unsteady")
	}
}

func TestInterleaveAlternatesOrder(t *testing.T) {
	var order []string
	side := func(name string, v float64) Measure {
		return func(_ context.Context, round int) (float64, error) {
			order = append(order, name)
			return v + float64(round), nil
		}
	}
	values, refs, err := Interleave(t.Context(), 3, side("sys", 10), side("ref", 20))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := order, []string{"sys", "ref", "ref", "sys", "sys", "ref"}; !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
	if values[1] != 11 || refs[1] != 21 {
		t.Errorf("round 2: system %v, reference %v; want 11, 21 (not swapped)", values[1], refs[1])
	}
	boom := errors.New("boom")
	_, _, err = Interleave(t.Context(), 2, side("sys", 1), func(context.Context, int) (float64, error) { return 0, boom })
	if !errors.Is(err, boom) {
		t.Errorf("Interleave error = %v, want it to wrap %v", err, boom)
	}
	if _, _, err := Interleave(t.Context(), 0, side("sys", 1), side("ref", 1)); err == nil {
		t.Error("zero rounds accepted")
	}
}
