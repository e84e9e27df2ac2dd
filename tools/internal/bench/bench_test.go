package bench

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"testing"
	"time"
)

func TestResultLineRoundTrip(t *testing.T) {
	in := Result{Area: "relay", Name: "outbox relay", Value: 21000, Unit: "events/s", Ref: "nats bench", RefValue: 60000, Min: 0.3}
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
