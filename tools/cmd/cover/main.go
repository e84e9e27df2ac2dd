// Command cover runs each module's tests with statement coverage (`make
// cover`) and prints one table: each module's coverage against its target
// (libs ≥ 80 %, each service ≥ 85 %), then the least-covered packages of
// each module. It exits non-zero when a module's tests fail or its
// coverage is under its target.
//
//	cover libs services/gateway          run the tests of these modules, print the table
//	cover -report libs services/gateway  print the table from the profiles of the last run
//
// Each module runs `go test -count=1 -coverpkg=./... -coverprofile=…
// ./...` in its directory, against the real PostgreSQL, Redis and NATS
// like make test; with -coverpkg every test binary reports every package
// of its module, and the profiles are merged, so a package tested through
// another counts. Generated files and benchmark commands (cmd/*bench) are
// left out of the denominator, as the table's footer says.
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

	"github.com/acube/platform/tools/internal/coverage"
	"github.com/acube/platform/tools/internal/stack"
)

// options are the command's settings, from flags and arguments.
type options struct {
	modules []string
	dir     string
	targets []coverage.Target
	least   int
	report  bool
	goTest  []string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cover:", err)
		os.Exit(1)
	}
}

// errBelow is returned when the table is printed but a module failed.
var errBelow = errors.New("a module's tests failed or its coverage is under its target")

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("cover", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	targets := fs.String("targets", "libs=80,services/=85", "minimum coverage by module; a name ending in / is a prefix")
	goTest := fs.String("gotest", "", "more go test flags, space-separated (e.g. -p 1)")
	fs.StringVar(&o.dir, "dir", ".data/cover", "directory of the profiles, relative to the repository root")
	fs.IntVar(&o.least, "least", 10, "least-covered packages listed per module")
	fs.BoolVar(&o.report, "report", false, "read the profiles of the last run instead of running the tests")
	if err := fs.Parse(args); err != nil {
		return err
	}
	o.modules = fs.Args()
	if len(o.modules) == 0 {
		return errors.New("name the modules to measure, e.g. libs services/gateway")
	}
	var err error
	if o.targets, err = coverage.ParseTargets(*targets); err != nil {
		return err
	}
	o.goTest = strings.Fields(*goTest)

	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	root, err := stack.Root(wd)
	if err != nil {
		return err
	}
	if !filepath.IsAbs(o.dir) {
		o.dir = filepath.Join(root, o.dir)
	}
	if err := os.MkdirAll(o.dir, 0o755); err != nil {
		return fmt.Errorf("profile directory: %w", err)
	}

	var results []coverage.Result
	for _, name := range o.modules {
		r, err := measure(ctx, root, name, o, stdout, stderr)
		if err != nil {
			return err
		}
		results = append(results, r)
	}
	fmt.Fprintln(stdout)
	if err := coverage.Write(stdout, results, o.least); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Profiles: %s\n", o.dir)
	for _, r := range results {
		if !r.Pass() {
			return errBelow
		}
	}
	return nil
}

// measure runs one module's tests with coverage (unless o.report) and
// sums its profile.
func measure(ctx context.Context, root, name string, o options, stdout, stderr io.Writer) (coverage.Result, error) {
	dir := filepath.Join(root, filepath.FromSlash(name))
	profile := filepath.Join(o.dir, strings.ReplaceAll(name, "/", "_")+".cov")
	failedMark := profile + ".failed"
	var failed bool
	if o.report {
		_, err := os.Stat(failedMark)
		failed = err == nil
	} else {
		fmt.Fprintf(stdout, "== %s\n", name)
		_ = os.Remove(profile)
		args := append([]string{"test", "-count=1", "-coverpkg=./...", "-coverprofile=" + profile}, o.goTest...)
		cmd := exec.CommandContext(ctx, "go", append(args, "./...")...)
		cmd.Dir, cmd.Stdout, cmd.Stderr = dir, stdout, stderr
		if err := cmd.Run(); err != nil {
			if ctx.Err() != nil {
				return coverage.Result{}, ctx.Err()
			}
			failed = true
			fmt.Fprintf(stderr, "cover: tests of %s failed: %v\n", name, err)
			_ = os.WriteFile(failedMark, nil, 0o644)
		} else {
			_ = os.Remove(failedMark)
		}
	}
	modPath, err := modulePath(dir)
	if err != nil {
		return coverage.Result{}, err
	}
	p := coverage.NewProfile()
	f, err := os.Open(profile)
	switch {
	case err == nil:
		err = p.Add(f)
		f.Close()
		if err != nil {
			return coverage.Result{}, fmt.Errorf("%s: %w", name, err)
		}
	case errors.Is(err, os.ErrNotExist) && failed:
		// Nothing built: the module shows no statements and fails.
	default:
		return coverage.Result{}, fmt.Errorf("%s: open profile: %w", name, err)
	}
	r := coverage.Result{
		Module:      coverage.Summarise(name, modPath, dir, p.Blocks(), coverage.StandardExclude),
		TestsFailed: failed,
	}
	r.Target, r.HasTarget = coverage.TargetFor(o.targets, name)
	return r, nil
}

// modulePath reads the module line of dir/go.mod.
func modulePath(dir string) (string, error) {
	f, err := os.Open(filepath.Join(dir, "go.mod"))
	if err != nil {
		return "", fmt.Errorf("module path: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("module path of %s: %w", dir, err)
	}
	return "", fmt.Errorf("module path: no module line in %s/go.mod", dir)
}
