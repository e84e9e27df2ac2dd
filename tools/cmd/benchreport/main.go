// Command benchreport runs every benchmark of the platform (`make bench`),
// one make target after another, collects their figures and writes one
// report, docs/benchmarks.md, with the machine, date and commit, each
// comparison as a ratio against its reference measured in the same run,
// and SVG charts under docs/benchmarks/.
//
// A benchmark reports its figures as result lines (libs/benchresult:
// "benchresult {json}") on its standard output; a target that prints none
// contributes its output only. A target that fails is recorded as failed
// and the others still run. Each comparison is the median of interleaved
// rounds; when the spread of its per-round ratios is wider than ±15 %,
// the report and the end of the run say so and name the make target to
// run again.
//
//	benchreport -targets bench-gateway,bench-e2e   run these targets, write the report
//	benchreport -keep                              also keep the report as docs/benchmarks/run-<date>-<n>.md
//	benchreport -compare OLD.md NEW.md              every figure of two kept reports side by side
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/acube/platform/libs/benchresult"
	"github.com/acube/platform/tools/internal/stack"
)

// options are the command's settings, from flags.
type options struct {
	targets []string
	out     string
	charts  string
	make    string
	// replay, when set, is the saved output of an earlier `make bench`,
	// read instead of running the targets (to redo the report alone).
	replay string
	// keep, when set, also writes the report under docs/benchmarks/ as
	// run-<date>-<n>.md with its own charts, for comparing runs.
	keep bool
}

// run is one make target's outcome.
type targetRun struct {
	name    string
	took    time.Duration
	err     error
	output  []string // its standard output, result lines left out
	results []benchresult.Result
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var o options
	var targets string
	flag.StringVar(&targets, "targets", "bench-gateway,bench-booking,bench-mailer,bench-export,bench-e2e", "make targets to run, in order")
	flag.StringVar(&o.out, "out", "docs/benchmarks.md", "report to write, relative to the repository root")
	flag.StringVar(&o.charts, "charts", "docs/benchmarks", "directory of the SVG charts, relative to the repository root")
	flag.StringVar(&o.make, "make", "make", "make binary")
	flag.StringVar(&o.replay, "replay", "", "build the report from this saved output of make bench instead of running the targets")
	flag.BoolVar(&o.keep, "keep", false, "also keep the report as docs/benchmarks/run-<date>-<n>.md (for comparing two runs)")
	compare := flag.Bool("compare", false, "compare two reports given as arguments (OLD.md NEW.md; none: the two newest kept runs): every figure side by side, no benchmark runs")
	flag.Parse()
	if *compare {
		oldPath, newPath := flag.Arg(0), flag.Arg(1)
		var err error
		switch flag.NArg() {
		case 0:
			oldPath, newPath, err = latestKept(o.charts)
		case 2:
		default:
			err = errors.New("-compare wants two reports, OLD.md NEW.md, or none for the two newest kept runs")
		}
		if err == nil {
			err = compareReports(oldPath, newPath, os.Stdout)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchreport:", err)
			os.Exit(1)
		}
		return
	}
	for t := range strings.SplitSeq(targets, ",") {
		if t = strings.TrimSpace(t); t != "" {
			o.targets = append(o.targets, t)
		}
	}
	if err := run(ctx, o, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options, stdout, stderr io.Writer) error {
	wd, err := os.Getwd()
	if err != nil {
		return fmt.Errorf("working directory: %w", err)
	}
	root, err := stack.Root(wd)
	if err != nil {
		return err
	}
	m := describeMachine(root)
	if o.replay != "" {
		runs, err := replay(o.replay)
		if err != nil {
			return err
		}
		if err := replayMachine(o.replay, &m); err != nil {
			return err
		}
		return writeReports(root, o, m, runs, stdout)
	}
	var runs []targetRun
	fmt.Fprintf(stdout, "== started %s load %s commit %s\n", m.started.Format(time.RFC3339), m.loadStart, m.commit)
	for _, t := range o.targets {
		fmt.Fprintf(stdout, "== make %s\n", t)
		r := runTarget(ctx, root, o.make, t, stdout, stderr)
		if r.err != nil {
			fmt.Fprintf(stdout, "== make %s failed after %s: %v\n", t, r.took.Round(time.Second), r.err)
		} else {
			fmt.Fprintf(stdout, "== make %s took %s\n", t, r.took.Round(time.Second))
		}
		runs = append(runs, r)
		if ctx.Err() != nil {
			break
		}
	}
	m.loadEnd = benchresult.LoadAverage()
	m.finished = time.Now().UTC()
	fmt.Fprintf(stdout, "== finished %s load %s\n", m.finished.Format(time.RFC3339), m.loadEnd)
	if err := writeReports(root, o, m, runs, stdout); err != nil {
		return err
	}
	var failed []string
	for _, r := range runs {
		if r.err != nil {
			failed = append(failed, r.name)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("targets failed: %s (the report records them)", strings.Join(failed, ", "))
	}
	return nil
}

// runTarget runs make target in root, copying its output through and
// collecting its result lines.
func runTarget(ctx context.Context, root, makeBin, target string, stdout, stderr io.Writer) targetRun {
	r := targetRun{name: target}
	start := time.Now()
	cmd := exec.CommandContext(ctx, makeBin, "--no-print-directory", target)
	cmd.Dir = root
	cmd.Stderr = stderr
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		r.err = fmt.Errorf("make %s: %w", target, err)
		return r
	}
	if err := cmd.Start(); err != nil {
		r.err = fmt.Errorf("make %s: %w", target, err)
		return r
	}
	sc := bufio.NewScanner(pipe)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var parseErrs []error
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(stdout, line)
		res, ok, err := benchresult.Parse(line)
		switch {
		case err != nil:
			parseErrs = append(parseErrs, err)
		case ok:
			r.results = append(r.results, res)
		default:
			r.output = append(r.output, line)
		}
	}
	_, _ = io.Copy(io.Discard, pipe)
	if err := cmd.Wait(); err != nil {
		r.err = fmt.Errorf("make %s: %w", target, err)
	}
	if len(parseErrs) > 0 {
		r.err = errors.Join(r.err, errors.Join(parseErrs...))
	}
	r.took = time.Since(start)
	return r
}

// replay reads the saved output of an earlier run: each target's lines
// follow its "== make <target>" line. Durations and failures are not in
// the output and are left out.
func replay(path string) ([]targetRun, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	defer f.Close()
	var runs []targetRun
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "== make "); ok && !strings.Contains(rest, " ") {
			runs = append(runs, targetRun{name: rest})
			continue
		}
		if len(runs) > 0 && strings.HasPrefix(line, "== make "+runs[len(runs)-1].name+" ") {
			r := &runs[len(runs)-1]
			if rest, ok := strings.CutPrefix(line, "== make "+r.name+" took "); ok {
				r.took, _ = time.ParseDuration(rest)
			} else if rest, ok := strings.CutPrefix(line, "== make "+r.name+" failed after "); ok {
				took, why, _ := strings.Cut(rest, ": ")
				r.took, _ = time.ParseDuration(took)
				r.err = errors.New(why)
			}
			continue
		}
		if len(runs) == 0 || strings.HasPrefix(line, "== ") {
			continue
		}
		r := &runs[len(runs)-1]
		if res, ok, err := benchresult.Parse(line); err != nil {
			return nil, err
		} else if ok {
			r.results = append(r.results, res)
		} else {
			r.output = append(r.output, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	return runs, nil
}

// replayMachine takes the run's dates and load averages from its
// "== started" and "== finished" lines.
func replayMachine(path string, m *machine) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		for prefix, dst := range map[string]struct {
			at   *time.Time
			load *string
		}{"== started ": {&m.started, &m.loadStart}, "== finished ": {&m.finished, &m.loadEnd}} {
			rest, ok := strings.CutPrefix(line, prefix)
			if !ok {
				continue
			}
			rest, commit, hasCommit := strings.Cut(rest, " commit ")
			if hasCommit {
				m.commit = commit
			}
			at, load, _ := strings.Cut(rest, " load ")
			if t, err := time.Parse(time.RFC3339, at); err == nil {
				*dst.at, *dst.load = t.UTC(), load
			}
		}
	}
	return nil
}

// writeReports writes the report, and a kept copy under the charts
// directory when asked, then warns on stdout about every comparison whose
// rounds spread wider than ±15 %, naming the target to run again.
func writeReports(root string, o options, m machine, runs []targetRun, stdout io.Writer) error {
	if err := writeReport(root, o, m, runs); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "== report written to %s\n", o.out)
	if o.keep {
		name, err := keptName(filepath.Join(root, o.charts), m.started)
		if err != nil {
			return err
		}
		kept := o
		kept.out = filepath.Join(o.charts, name+".md")
		kept.charts = filepath.Join(o.charts, name)
		if err := writeReport(root, kept, m, runs); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "== report kept as %s (compare two runs: make bench-compare)\n", kept.out)
	}
	for _, w := range unsteady(runs) {
		fmt.Fprintln(stdout, "== warning:", w)
	}
	return nil
}

// keptName is run-<date>-<n> with the first n not yet taken in dir.
func keptName(dir string, started time.Time) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create %s: %w", dir, err)
	}
	for n := 1; ; n++ {
		name := fmt.Sprintf("run-%s-%d", started.Format(time.DateOnly), n)
		if _, err := os.Stat(filepath.Join(dir, name+".md")); errors.Is(err, os.ErrNotExist) {
			return name, nil
		}
	}
}

// unsteady describes each comparison whose per-round ratios spread wider
// than benchresult.SpreadLimit, with the make target that measures it.
func unsteady(runs []targetRun) []string {
	var out []string
	for _, r := range runs {
		for _, res := range r.results {
			if !res.Unsteady() {
				continue
			}
			why := fmt.Sprintf("spread %s is wider than ±%.0f %%", res.SpreadText(), benchresult.SpreadLimit*100)
			if res.Rounds < 2 {
				why = "measured in a single round, so its spread is unknown"
			}
			out = append(out, fmt.Sprintf("%s: %s, ratio %.2f×: %s; re-run `make %s`", res.Area, res.Name, res.Ratio(), why, r.name))
		}
	}
	return out
}
