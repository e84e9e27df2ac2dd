package coverage

import (
	"bufio"
	"cmp"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// Counts are statements and how many of them ran.
type Counts struct {
	Stmts, Covered int
}

// Percent is the statement coverage, 0 when there are no statements.
func (c Counts) Percent() float64 {
	if c.Stmts == 0 {
		return 0
	}
	return 100 * float64(c.Covered) / float64(c.Stmts)
}

// Package is one package's counts.
type Package struct {
	// Rel is the package's directory relative to its module ("." for
	// the module's root).
	Rel string
	Counts
}

// Module is the coverage of one module.
type Module struct {
	// Name is the module's directory in the workspace, e.g.
	// services/gateway.
	Name string
	// Total sums every package left in the denominator.
	Total Counts
	// Packages holds each package's counts, by Rel.
	Packages []Package
	// Excluded counts the files left out of the denominator, by reason.
	Excluded map[string]int
}

// Reasons a file leaves the denominator (Exclude).
const (
	ReasonGenerated = "generated"
	ReasonBench     = "benchmark command"
)

// Exclude says why a file of a module leaves the denominator, or "" to
// keep it. rel is the file's path relative to the module's directory,
// dir that directory on disk.
type Exclude func(dir, rel string) string

// Summarise sums blocks per package of the module at modulePath, whose
// source is in dir, leaving out the files exclude names.
func Summarise(name, modulePath, dir string, blocks []Block, exclude Exclude) Module {
	m := Module{Name: name, Excluded: map[string]int{}}
	byPkg := map[string]*Counts{}
	verdict := map[string]string{} // file → exclusion reason, "" kept
	for _, b := range blocks {
		rel, ok := strings.CutPrefix(b.File, modulePath+"/")
		if !ok {
			continue // a file of another module (never with -coverpkg=./...)
		}
		reason, seen := verdict[rel]
		if !seen {
			if exclude != nil {
				reason = exclude(dir, rel)
			}
			verdict[rel] = reason
			if reason != "" {
				m.Excluded[reason]++
			}
		}
		if reason != "" {
			continue
		}
		pkg := path.Dir(rel)
		c := byPkg[pkg]
		if c == nil {
			c = &Counts{}
			byPkg[pkg] = c
		}
		c.Stmts += b.Stmts
		m.Total.Stmts += b.Stmts
		if b.Count > 0 {
			c.Covered += b.Stmts
			m.Total.Covered += b.Stmts
		}
	}
	for rel, c := range byPkg {
		m.Packages = append(m.Packages, Package{Rel: rel, Counts: *c})
	}
	slices.SortFunc(m.Packages, func(a, b Package) int { return strings.Compare(a.Rel, b.Rel) })
	return m
}

// Least returns up to n packages with statements, least covered first;
// of equal coverage, the one with more statements left uncovered first.
func (m Module) Least(n int) []Package {
	var out []Package
	for _, p := range m.Packages {
		if p.Stmts > 0 {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b Package) int {
		if c := cmp.Compare(a.Percent(), b.Percent()); c != 0 {
			return c
		}
		if c := cmp.Compare(b.Stmts-b.Covered, a.Stmts-a.Covered); c != 0 {
			return c
		}
		return strings.Compare(a.Rel, b.Rel)
	})
	return out[:min(n, len(out))]
}

// generatedRE is the marker of generated Go files (go help generate).
var generatedRE = regexp.MustCompile(`^// Code generated .* DO NOT EDIT\.$`)

// Generated reports whether the Go file at name carries the "Code
// generated … DO NOT EDIT." line before its package clause.
func Generated(name string) (bool, error) {
	f, err := os.Open(name)
	if err != nil {
		return false, fmt.Errorf("check generated %s: %w", name, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if generatedRE.MatchString(line) {
			return true, nil
		}
		if strings.HasPrefix(line, "package ") {
			return false, nil
		}
	}
	if err := sc.Err(); err != nil {
		return false, fmt.Errorf("check generated %s: %w", name, err)
	}
	return false, nil
}

// StandardExclude leaves out generated files and the benchmark commands
// (packages cmd/*bench): what they cover is measured by the benchmarks,
// not by tests. A file that cannot be read is kept.
func StandardExclude(dir, rel string) string {
	if ok, _ := path.Match("cmd/*bench", path.Dir(rel)); ok {
		return ReasonBench
	}
	if gen, err := Generated(filepath.Join(dir, filepath.FromSlash(rel))); err == nil && gen {
		return ReasonGenerated
	}
	return ""
}
