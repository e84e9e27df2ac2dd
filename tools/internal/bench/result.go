// Package bench holds what the platform's benchmark commands share: the
// machine-readable result line every benchmark prints and the report
// collects, latency percentiles, an open-loop load driver that does not
// coordinate with the system under test, and small SVG charts.
package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// LinePrefix starts every machine-readable result line a benchmark
// prints on its standard output; `make bench` collects these lines.
const LinePrefix = "benchresult "

// Result is one figure of a benchmark run. A comparison names its
// reference, measured in the same run, and its target as a bound on the
// ratio Value / RefValue; an absolute figure (a latency) has no reference
// and bounds Value itself. A latency point of a series under rising load
// sets Series, Rate and the percentiles instead.
type Result struct {
	// Area is the part of the system: gateway, booking, mailer, export, e2e, relay.
	Area string `json:"area"`
	// Name says what was measured, e.g. "booking write path".
	Name string `json:"name"`
	// Value is the measured figure in Unit.
	Value float64 `json:"value"`
	// Unit of Value and RefValue, e.g. "req/s", "ms".
	Unit string `json:"unit,omitempty"`
	// Ref names the reference, e.g. "pgbench, same statements and clients".
	Ref string `json:"ref,omitempty"`
	// RefValue is the reference's figure in Unit.
	RefValue float64 `json:"ref_value,omitempty"`
	// Min and Max bound the ratio (with a reference) or the value
	// (without); zero means no bound.
	Min float64 `json:"min,omitempty"`
	Max float64 `json:"max,omitempty"`
	// Note qualifies the figure in a few words.
	Note string `json:"note,omitempty"`

	// Series names a curve of latency against offered load.
	Series string `json:"series,omitempty"`
	// Rate is the offered load of a series point, per second.
	Rate float64 `json:"rate,omitempty"`
	// P50, P90, P99 and PMax are the point's latencies in milliseconds.
	P50  float64 `json:"p50_ms,omitempty"`
	P90  float64 `json:"p90_ms,omitempty"`
	P99  float64 `json:"p99_ms,omitempty"`
	PMax float64 `json:"max_ms,omitempty"`
	// Lost counts requests of the point that never completed.
	Lost int `json:"lost,omitempty"`
}

// Ratio is Value / RefValue, or 0 without a reference.
func (r Result) Ratio() float64 {
	if r.RefValue == 0 {
		return 0
	}
	return r.Value / r.RefValue
}

// Verdict is PASS or FAIL against the target, or "" when there is none.
func (r Result) Verdict() string {
	if r.Min == 0 && r.Max == 0 {
		return ""
	}
	v := r.Value
	if r.RefValue != 0 {
		v = r.Ratio()
	}
	if (r.Min != 0 && v < r.Min) || (r.Max != 0 && v > r.Max) {
		return "FAIL"
	}
	return "PASS"
}

// Target renders the bound, e.g. "≥ 0.90×" or "≤ 50 ms".
func (r Result) Target() string {
	suffix := "×"
	if r.RefValue == 0 {
		suffix = " " + r.Unit
	}
	var parts []string
	if r.Min != 0 {
		parts = append(parts, fmt.Sprintf("≥ %g%s", r.Min, suffix))
	}
	if r.Max != 0 {
		parts = append(parts, fmt.Sprintf("≤ %g%s", r.Max, suffix))
	}
	return strings.Join(parts, ", ")
}

// Print writes r as one result line.
func Print(w io.Writer, r Result) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode result %s: %w", r.Name, err)
	}
	if _, err := fmt.Fprintf(w, "%s%s\n", LinePrefix, b); err != nil {
		return fmt.Errorf("print result %s: %w", r.Name, err)
	}
	return nil
}

// Parse reads a result line; ok is false for any other line.
func Parse(line string) (r Result, ok bool, err error) {
	rest, found := strings.CutPrefix(strings.TrimSpace(line), LinePrefix)
	if !found {
		return Result{}, false, nil
	}
	if err := json.Unmarshal([]byte(rest), &r); err != nil {
		return Result{}, true, fmt.Errorf("parse result line %q: %w", line, err)
	}
	return r, true, nil
}
