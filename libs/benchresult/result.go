// Package benchresult is the one machine-readable line every benchmark of
// the platform prints and `make bench` (tools/cmd/benchreport) collects:
// "benchresult {json}". It lives in libs so that the benchmarks inside a
// service module (which need that service's internal packages) and the
// ones under tools print through the same code.
//
// A comparison against a reference is measured in interleaved rounds —
// system, reference, system, reference… — and reported as the median of
// the per-round ratios with their spread (FromRounds), so one slow spell
// of a shared machine moves one round, not the figure.
package benchresult

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
)

// LinePrefix starts every machine-readable result line a benchmark
// prints on its standard output; `make bench` collects these lines.
const LinePrefix = "benchresult "

// DefaultRounds is how many interleaved rounds a comparison runs unless
// told otherwise: enough for a median that one bad round cannot move.
const DefaultRounds = 5

// SpreadLimit is the widest spread of per-round ratios, as a share of their
// median either way, that the report accepts without a warning (±15 %).
const SpreadLimit = 0.15

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
	// Value is the measured figure in Unit (the median of the rounds).
	Value float64 `json:"value"`
	// Unit of Value and RefValue, e.g. "req/s", "ms".
	Unit string `json:"unit,omitempty"`
	// Ref names the reference, e.g. "pgbench, same statements and clients".
	Ref string `json:"ref,omitempty"`
	// RefValue is the reference's figure in Unit (the median of the rounds).
	RefValue float64 `json:"ref_value,omitempty"`
	// Min and Max bound the ratio (with a reference) or the value
	// (without); zero means no bound.
	Min float64 `json:"min,omitempty"`
	Max float64 `json:"max,omitempty"`
	// Note qualifies the figure in a few words.
	Note string `json:"note,omitempty"`

	// Rounds is how many interleaved rounds of system and reference the
	// comparison ran; RatioMedian is the median of their per-round ratios
	// and RatioMin, RatioMax the smallest and largest (the spread).
	Rounds      int     `json:"rounds,omitempty"`
	RatioMedian float64 `json:"ratio,omitempty"`
	RatioMin    float64 `json:"ratio_min,omitempty"`
	RatioMax    float64 `json:"ratio_max,omitempty"`

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

// FromRounds sets r's figures from interleaved rounds: values[i] and
// refs[i] were measured in round i, one right after the other. Value and
// RefValue become the medians of each side, and the ratio the median of
// the per-round ratios, with their min and max. Rounds whose reference is
// zero are left out of the ratios.
func (r Result) FromRounds(values, refs []float64) Result {
	r.Value, r.RefValue = Median(values), Median(refs)
	var ratios []float64
	for i := range min(len(values), len(refs)) {
		if refs[i] != 0 {
			ratios = append(ratios, values[i]/refs[i])
		}
	}
	r.Rounds = len(ratios)
	if len(ratios) > 0 {
		r.RatioMedian = Median(ratios)
		r.RatioMin, r.RatioMax = slices.Min(ratios), slices.Max(ratios)
	}
	return r
}

// Median of vs (the mean of the middle two for an even count); 0 for none.
// Durations and counts work as well as ratios.
func Median[T ~int64 | ~float64](vs []T) T {
	if len(vs) == 0 {
		return 0
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// Ratio is the median per-round ratio when the comparison ran in rounds,
// else Value / RefValue, or 0 without a reference.
func (r Result) Ratio() float64 {
	if r.RatioMedian != 0 {
		return r.RatioMedian
	}
	if r.RefValue == 0 {
		return 0
	}
	return r.Value / r.RefValue
}

// Spread is how far the per-round ratios stray from their median, the
// larger side as a share of it (0.1 is ±10 %); 0 without rounds.
func (r Result) Spread() float64 {
	m := r.Ratio()
	if r.Rounds == 0 || m == 0 {
		return 0
	}
	return math.Max(r.RatioMax/m-1, 1-r.RatioMin/m)
}

// Unsteady reports whether the spread is wider than SpreadLimit, or the
// comparison ran in a single round, so the ratio should be measured again.
func (r Result) Unsteady() bool {
	if r.RefValue == 0 {
		return false
	}
	return r.Rounds < 2 || r.Spread() > SpreadLimit
}

// SpreadText renders the spread, e.g. "0.91–1.02× (5 rounds)", or "" when
// the comparison did not run in rounds.
func (r Result) SpreadText() string {
	if r.Rounds == 0 {
		return ""
	}
	return fmt.Sprintf("%.2f–%.2f× (%d rounds)", r.RatioMin, r.RatioMax, r.Rounds)
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

// Target renders the bound, e.g. "≥ 0.9×" or "≤ 50 ms".
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

// Key identifies a figure across runs, to set two runs side by side.
func (r Result) Key() string {
	if r.Series != "" {
		return fmt.Sprintf("%s: %s, %s at %g/s", r.Area, r.Name, r.Series, r.Rate)
	}
	return r.Area + ": " + r.Name
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

// LoadAverage is the 1, 5 and 15 minute load averages from /proc/loadavg,
// "0.52 0.61 0.70", printed with a run to judge how busy the machine was;
// "unknown" where there is no such file (off Linux).
func LoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
