package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acube/platform/libs/benchresult"
)

func rounds(r benchresult.Result, values, refs []float64) benchresult.Result {
	return r.FromRounds(values, refs)
}

func TestUnsteadyNamesTheTargetToRerun(t *testing.T) {
	steady := rounds(benchresult.Result{Area: "booking", Name: "write path", Ref: "pgbench"}, []float64{98, 100, 102, 99, 101}, []float64{100, 100, 100, 100, 100})
	wide := rounds(benchresult.Result{Area: "gateway", Name: "req/s", Ref: "nginx"}, []float64{60, 90, 90, 90, 120}, []float64{100, 100, 100, 100, 100})
	single := benchresult.Result{Area: "mailer", Name: "emails/s", Ref: "bare loop", Value: 9, RefValue: 10}
	absolute := benchresult.Result{Area: "e2e", Name: "p99", Value: 20, Unit: "ms", Max: 50}
	tests := []struct {
		name string
		runs []targetRun
		want []string
	}{
		{name: "steady and absolute: no warning", runs: []targetRun{{name: "bench-booking", results: []benchresult.Result{steady, absolute}}}},
		{name: "wide spread", runs: []targetRun{{name: "bench-gateway", results: []benchresult.Result{steady, wide}}},
			want: []string{"gateway: req/s, ratio 0.90×: spread 0.60–1.20× (5 rounds) is wider than ±15 %; re-run `make bench-gateway`"}},
		{name: "single round", runs: []targetRun{{name: "bench-mailer", results: []benchresult.Result{single}}},
			want: []string{"mailer: emails/s, ratio 0.90×: measured in a single round, so its spread is unknown; re-run `make bench-mailer`"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := unsteady(tt.runs)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("unsteady =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestCompareFigures(t *testing.T) {
	old := []figure{{key: "a", what: "ratio", value: 1}, {key: "b", what: "ratio", value: 2}, {key: "gone", what: "ratio", value: 1}}
	tests := []struct {
		name     string
		new      []figure
		wantMark map[string]string
	}{
		{name: "within ±15 %", new: []figure{{key: "a", what: "ratio", value: 1.1}, {key: "b", what: "ratio", value: 1.75}},
			wantMark: map[string]string{"a": "", "b": "", "gone": "only in the old run"}},
		{name: "one moved too far, one new", new: []figure{{key: "a", what: "ratio", value: 0.8}, {key: "b", what: "ratio", value: 2}, {key: "fresh", what: "ratio", value: 3}},
			wantMark: map[string]string{"a": "⚠ beyond ±15 %", "b": "", "gone": "only in the old run", "fresh": "only in the new run"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows := compareFigures(old, tt.new)
			if len(rows) != len(tt.wantMark) {
				t.Fatalf("%d rows, want %d", len(rows), len(tt.wantMark))
			}
			for _, r := range rows {
				if want, ok := tt.wantMark[r.key]; !ok || r.mark != want {
					t.Errorf("row %s: mark %q, want %q", r.key, r.mark, want)
				}
			}
		})
	}
}

func TestKeptReportsCompare(t *testing.T) {
	dir := t.TempDir()
	started := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	r := rounds(benchresult.Result{Area: "booking", Name: "write path", Ref: "pgbench", Min: 0.9}, []float64{100, 100, 100, 100, 100}, []float64{100, 100, 100, 100, 100})
	for i, v := range []float64{100, 130} {
		name, err := keptName(dir, started)
		if err != nil {
			t.Fatal(err)
		}
		if want := "run-2026-12-04-" + string(rune('1'+i)); name != want {
			t.Fatalf("kept name %q, want %q", name, want)
		}
		r.Value, r.RatioMedian = v, v/100
		body := "# Benchmarks\n\n" + resultLines([]targetRun{{name: "bench-booking", results: []benchresult.Result{r}}})
		if err := os.WriteFile(filepath.Join(dir, name+".md"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Ten sorts after nine, not before two.
	names := []string{"run-2026-12-04-10.md", "run-2026-12-04-9.md", "run-2026-12-03-11.md"}
	sortKept(names)
	if strings.Join(names, " ") != "run-2026-12-03-11.md run-2026-12-04-9.md run-2026-12-04-10.md" {
		t.Errorf("sortKept = %v", names)
	}
	oldPath, newPath, err := latestKept(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := compareReports(oldPath, newPath, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| booking: write path | ratio | 1.00 | 1.30 | +30.0 % | ⚠ beyond ±15 % |", "0 of 1 ratios within ±15 %"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("compare output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestReplayReadsResultLines(t *testing.T) {
	r := benchresult.Result{Area: "export", Name: "rows/s", Value: 2, RefValue: 1, Ref: "psql"}
	var saved bytes.Buffer
	saved.WriteString("== started 2026-12-04T10:00:00Z load 0.1 0.2 0.3 commit abc\n== make bench-export\nhello\n")
	if err := benchresult.Print(&saved, r); err != nil {
		t.Fatal(err)
	}
	saved.WriteString("== make bench-export took 3s\n")
	path := filepath.Join(t.TempDir(), "out.txt")
	if err := os.WriteFile(path, saved.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	runs, err := replay(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || runs[0].name != "bench-export" || len(runs[0].results) != 1 || runs[0].results[0] != r ||
		strings.Join(runs[0].output, "|") != "hello" || runs[0].took != 3*time.Second {
		t.Errorf("replay = %+v", runs)
	}
}
