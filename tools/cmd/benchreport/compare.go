package main

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"

	"github.com/acube/platform/libs/benchresult"
)

// figure is one comparable number of a report: a comparison's median
// ratio, or an absolute figure's value.
type figure struct {
	key, what string
	value     float64
}

// readFigures reads the result lines a report keeps in its last section
// (or any saved output of make bench) and returns its figures in order.
func readFigures(path string) ([]figure, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("compare: %w", err)
	}
	defer f.Close()
	var out []figure
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		r, ok, err := benchresult.Parse(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("compare %s: %w", path, err)
		}
		if !ok {
			continue
		}
		switch {
		case r.Series != "":
			out = append(out, figure{key: r.Key() + " p99", what: "p99 ms", value: r.P99})
		case r.RefValue != 0:
			out = append(out, figure{key: r.Key(), what: "ratio", value: r.Ratio()})
		default:
			out = append(out, figure{key: r.Key(), what: r.Unit, value: r.Value})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("compare %s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("compare: %s holds no result lines (a report written before they were kept?)", path)
	}
	return out, nil
}

// compareReports prints every figure of two reports side by side with
// their difference, and how many ratios agree within ±15 %.
func compareReports(oldPath, newPath string, w io.Writer) error {
	a, err := readFigures(oldPath)
	if err != nil {
		return err
	}
	b, err := readFigures(newPath)
	if err != nil {
		return err
	}
	rows := compareFigures(a, b)
	fmt.Fprintf(w, "%s → %s\n\n", oldPath, newPath)
	fmt.Fprintln(w, "| figure | unit | old | new | difference | |\n|---|---|---:|---:|---:|---|")
	ratios, within := 0, 0
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", r.key, r.what, opt(r.old), opt(r.new), diffText(r.diff), r.mark)
		if r.what == "ratio" && r.old != nil && r.new != nil {
			ratios++
			if r.mark == "" {
				within++
			}
		}
	}
	fmt.Fprintf(w, "\n%d of %d ratios within ±%.0f %% of each other\n", within, ratios, benchresult.SpreadLimit*100)
	return nil
}

// comparedRow is one figure of two runs.
type comparedRow struct {
	key, what string
	old, new  *float64
	diff      float64 // (new − old) / old; NaN when either is missing
	mark      string  // "" within ±15 %, else why not
}

// compareFigures pairs the figures of two runs by key, in the old run's
// order followed by figures only the new run has.
func compareFigures(old, new []figure) []comparedRow {
	byKey := map[string]figure{}
	for _, f := range new {
		byKey[f.key] = f
	}
	seen := map[string]bool{}
	var rows []comparedRow
	for _, o := range old {
		if seen[o.key] {
			continue
		}
		seen[o.key] = true
		ov := o.value
		row := comparedRow{key: o.key, what: o.what, old: &ov, diff: math.NaN(), mark: "only in the old run"}
		if n, ok := byKey[o.key]; ok {
			nv := n.value
			row.new, row.mark = &nv, ""
			if ov != 0 {
				row.diff = (nv - ov) / ov
			}
			if math.IsNaN(row.diff) || math.Abs(row.diff) > benchresult.SpreadLimit {
				row.mark = fmt.Sprintf("⚠ beyond ±%.0f %%", benchresult.SpreadLimit*100)
			}
		}
		rows = append(rows, row)
	}
	for _, n := range new {
		if seen[n.key] {
			continue
		}
		seen[n.key] = true
		nv := n.value
		rows = append(rows, comparedRow{key: n.key, what: n.what, new: &nv, diff: math.NaN(), mark: "only in the new run"})
	}
	return rows
}

func opt(v *float64) string {
	if v == nil {
		return "—"
	}
	return fig(*v)
}

func diffText(d float64) string {
	if math.IsNaN(d) {
		return "—"
	}
	return fmt.Sprintf("%+.1f %%", d*100)
}

// latestKept returns the two newest kept reports in dir, oldest first.
func latestKept(dir string) (string, string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", "", fmt.Errorf("kept reports: %w", err)
	}
	var kept []string
	for _, e := range entries {
		if n := e.Name(); strings.HasPrefix(n, "run-") && strings.HasSuffix(n, ".md") {
			kept = append(kept, n)
		}
	}
	if len(kept) < 2 {
		return "", "", fmt.Errorf("kept reports: %d in %s, want two (make bench BENCH_KEEP=1, twice)", len(kept), dir)
	}
	sortKept(kept)
	return dir + "/" + kept[len(kept)-2], dir + "/" + kept[len(kept)-1], nil
}

// sortKept orders run-<date>-<n>.md names by date, then by n as a number.
func sortKept(names []string) {
	key := func(name string) (string, int) {
		base := strings.TrimSuffix(strings.TrimPrefix(name, "run-"), ".md")
		i := strings.LastIndexByte(base, '-')
		if i < 0 {
			return base, 0
		}
		var n int
		_, _ = fmt.Sscan(base[i+1:], &n)
		return base[:i], n
	}
	slices.SortFunc(names, func(a, b string) int {
		da, na := key(a)
		db, nb := key(b)
		return cmp.Or(cmp.Compare(da, db), cmp.Compare(na, nb))
	})
}
