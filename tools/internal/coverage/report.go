package coverage

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Target is the minimum statement coverage of the modules whose name is
// Pattern, or starts with it when it ends in "/".
type Target struct {
	Pattern string
	Min     float64
}

// ParseTargets reads "libs=80,services/=85".
func ParseTargets(s string) ([]Target, error) {
	var out []Target
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, val, ok := strings.Cut(part, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("coverage target %q: want module=percent", part)
		}
		min, err := strconv.ParseFloat(val, 64)
		if err != nil || min < 0 || min > 100 {
			return nil, fmt.Errorf("coverage target %q: want a percentage from 0 to 100", part)
		}
		out = append(out, Target{Pattern: name, Min: min})
	}
	return out, nil
}

// TargetFor returns the target of module name: an exact pattern wins over
// a prefix, a longer prefix over a shorter one.
func TargetFor(targets []Target, name string) (float64, bool) {
	best, found, bestLen := 0.0, false, -1
	for _, t := range targets {
		switch {
		case t.Pattern == name:
			return t.Min, true
		case strings.HasSuffix(t.Pattern, "/") && strings.HasPrefix(name, t.Pattern) && len(t.Pattern) > bestLen:
			best, found, bestLen = t.Min, true, len(t.Pattern)
		}
	}
	return best, found
}

// Result is one module's coverage, its tests' outcome and its target.
type Result struct {
	Module
	// TestsFailed is set when `go test` failed: the figure is then a
	// lower bound, and the module fails.
	TestsFailed bool
	// Target is the minimum coverage, when HasTarget.
	Target    float64
	HasTarget bool
}

// Pass reports whether the tests passed and the target, if any, is met.
func (r Result) Pass() bool {
	return !r.TestsFailed && (!r.HasTarget || r.Total.Percent() >= r.Target)
}

// verdict is the table's last column.
func (r Result) verdict() string {
	switch {
	case r.TestsFailed:
		return "FAIL (tests failed)"
	case !r.HasTarget:
		return "-"
	case r.Pass():
		return "PASS"
	}
	return "FAIL"
}

// Write prints the table of results, then each module's least-covered
// packages (up to least), then a footer naming what left the
// denominator.
func Write(w io.Writer, results []Result, least int) error {
	width := len("module")
	for _, r := range results {
		width = max(width, len(r.Name))
	}
	fmt.Fprintf(w, "%-*s  %10s  %8s  %8s  %6s  %s\n", width, "module", "statements", "covered", "coverage", "target", "result")
	for _, r := range results {
		target := "-"
		if r.HasTarget {
			target = fmt.Sprintf("%.0f%%", r.Target)
		}
		fmt.Fprintf(w, "%-*s  %10d  %8d  %7.1f%%  %6s  %s\n", width, r.Name, r.Total.Stmts, r.Total.Covered, r.Total.Percent(), target, r.verdict())
	}
	for _, r := range results {
		pkgs := r.Least(least)
		if len(pkgs) == 0 {
			continue
		}
		fmt.Fprintf(w, "\nleast-covered packages of %s:\n", r.Name)
		pw := 0
		for _, p := range pkgs {
			pw = max(pw, len(p.Rel))
		}
		for _, p := range pkgs {
			fmt.Fprintf(w, "  %-*s  %6d statements  %5.1f%%  %5d uncovered\n", pw, p.Rel, p.Stmts, p.Percent(), p.Stmts-p.Covered)
		}
	}
	excluded := map[string]int{}
	for _, r := range results {
		for reason, n := range r.Excluded {
			excluded[reason] += n
		}
	}
	fmt.Fprintln(w, "\nStatements of every package of a module count, test helpers included (go test -coverpkg=./...).")
	if len(excluded) > 0 {
		var parts []string
		for _, reason := range slices.Sorted(maps.Keys(excluded)) {
			noun := "files"
			if excluded[reason] == 1 {
				noun = "file"
			}
			parts = append(parts, fmt.Sprintf("%d %s %s", excluded[reason], reason, noun))
		}
		fmt.Fprintf(w, "Left out of the denominator: %s (benchmark commands, cmd/*bench, are measured by make bench).\n", strings.Join(parts, ", "))
	}
	return nil
}
