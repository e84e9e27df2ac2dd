package bench

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"testing"
	"time"
)

func TestLoadSchedule(t *testing.T) {
	tests := []struct {
		name                  string
		load                  Load
		wantOffered, wantWarm int
	}{
		{name: "one sender", load: Load{Rate: 2000, Duration: 50 * time.Millisecond}, wantOffered: 100},
		{name: "senders share the schedule", load: Load{Rate: 2000, Duration: 50 * time.Millisecond, Senders: 7}, wantOffered: 100},
		{name: "warm-up sent, not measured", load: Load{Rate: 2000, Warmup: 10 * time.Millisecond, Duration: 40 * time.Millisecond, Senders: 3},
			wantOffered: 100, wantWarm: 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			senders := max(tt.load.Senders, 1)
			seen := make([][]Request, senders)
			sent, err := tt.load.Run(t.Context(), func(_ context.Context, r Request) {
				seen[r.Sender] = append(seen[r.Sender], r)
			})
			if err != nil {
				t.Fatal(err)
			}
			if sent.Offered != tt.wantOffered || sent.Measured != tt.wantOffered-tt.wantWarm {
				t.Errorf("sent %+v, want %d offered, %d measured", sent, tt.wantOffered, tt.wantOffered-tt.wantWarm)
			}
			interval := time.Duration(float64(time.Second) / tt.load.Rate)
			var first time.Time
			indices := map[int]bool{}
			for s, rs := range seen {
				for _, r := range rs {
					if r.Index%senders != s {
						t.Errorf("request %d sent by sender %d, want %d", r.Index, s, r.Index%senders)
					}
					if r.Warmup != (r.Index < tt.wantWarm) {
						t.Errorf("request %d: warm-up %v", r.Index, r.Warmup)
					}
					if r.Index == 0 {
						first = r.Due
					}
					indices[r.Index] = true
				}
			}
			if len(indices) != tt.wantOffered {
				t.Fatalf("%d distinct requests, want %d", len(indices), tt.wantOffered)
			}
			for _, rs := range seen {
				for _, r := range rs {
					if want := first.Add(time.Duration(r.Index) * interval); !r.Due.Equal(want) {
						t.Errorf("request %d due %v after the first, want %v", r.Index, r.Due.Sub(first), want.Sub(first))
					}
				}
			}
		})
	}
	if _, err := (Load{}).Run(t.Context(), func(context.Context, Request) {}); err == nil {
		t.Error("a zero rate was accepted")
	}
}

func TestLoadStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	sent, err := Load{Rate: 1000, Duration: time.Hour, Senders: 4}.Run(ctx, func(_ context.Context, r Request) {
		if r.Index == 10 {
			cancel()
		}
	})
	if err == nil || sent.Offered >= 1000*3600 {
		t.Errorf("Run after cancel: %+v, %v; want an early return with the context's error", sent, err)
	}
}

func TestSummarizeNearestRank(t *testing.T) {
	var s []time.Duration
	for i := 100; i >= 1; i-- {
		s = append(s, time.Duration(i)*time.Millisecond)
	}
	got := Summarize(s)
	want := Summary{N: 100, P50: 50 * time.Millisecond, P90: 90 * time.Millisecond, P99: 99 * time.Millisecond, Max: 100 * time.Millisecond}
	if got != want {
		t.Fatalf("Summarize = %+v, want %+v", got, want)
	}
	if (Summarize(nil) != Summary{}) {
		t.Error("empty samples give a non-zero summary")
	}
}

func TestChartsAreWellFormedXML(t *testing.T) {
	charts := map[string]string{
		"line": LineChart{Title: "a < b & c", XLabel: "rate", YLabel: "ms", Limit: 50, LimitLabel: "target",
			Lines: []Line{{Name: "p99", Points: []Point{{50, 3}, {100, 7.5}}}}}.SVG(),
		"log": LineChart{Title: "log", LogY: true, Limit: 50, Lines: []Line{{Name: "p99", Points: []Point{{50, 3}, {400, 2400}}}}}.SVG(),
		"bar": BarChart{Title: "ratios", XLabel: "×", Bars: []Bar{{Label: "relay", Value: 0.4, Target: 0.3, Pass: true}}}.SVG(),
	}
	for name, svg := range charts {
		dec := xml.NewDecoder(bytes.NewReader([]byte(svg)))
		for {
			_, err := dec.Token()
			if err != nil {
				if !errors.Is(err, io.EOF) {
					t.Errorf("%s chart: %v", name, err)
				}
				break
			}
		}
	}
}
