// Package contract checks the running platform against its OpenAPI
// document with tools nobody here wrote (issue 14; docs/contract.md): it
// starts the whole stack on free ports with a database, NATS server and
// SMTP sink of its own, seeds the records the operations need, lints the
// document with redocly, and runs a Portman-generated Postman collection
// (contract tests on every operation's happy path, variations for its
// error paths) with Newman against the live gateway.
package contract

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Config says where to run.
type Config struct {
	// Root is the repository root.
	Root string
	// DatabaseURL is a superuser's URL of the PostgreSQL server the run
	// creates its own database on (and drops afterwards).
	DatabaseURL string
	// Dir keeps the run's binaries, collection and report; empty uses a
	// temporary directory removed afterwards.
	Dir string
	// Verbose shows the services' own log lines.
	Verbose bool
}

// onePixelPNG is the event image the upload sends.
const onePixelPNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="

// Run does the whole check and returns its summary; the error says what
// kept it from finishing (a failed check is in the summary, Summary.Err).
func Run(ctx context.Context, cfg Config, w io.Writer) (Summary, error) {
	tools := filepath.Join(cfg.Root, toolsDir)
	if !Installed(tools) {
		return Summary{}, fmt.Errorf("the npm tools are not installed in %s: run make contract-deps", tools)
	}
	dir := cfg.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "contract-")
		if err != nil {
			return Summary{}, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return Summary{}, err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return Summary{}, err
	}
	say := func(format string, args ...any) { fmt.Fprintf(w, "contract | "+format+"\n", args...) }
	doc := filepath.Join(cfg.Root, "libs/apispec/openapi.json")
	t0 := time.Now()

	say("redocly lint (recommended rules)")
	lintErr := lint(ctx, tools, doc, w)

	// The services' lines go to dir/services.log (and w when verbose);
	// the end of that file explains a service that would not start.
	logPath := filepath.Join(dir, "services.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return Summary{}, err
	}
	defer logFile.Close()
	var logs io.Writer = logFile
	if cfg.Verbose {
		logs = io.MultiWriter(logFile, w)
	}
	say("building and starting the services")
	sys, err := startSystem(ctx, cfg.Root, dir, cfg.DatabaseURL, logs)
	if err != nil {
		return Summary{}, fmt.Errorf("%w\nthe services' last lines:\n%s", err, tail(logPath, 30))
	}
	defer func() { _ = sys.Close() }()
	say("stack ready at %s after %s; seeding", sys.Gateway, time.Since(t0).Round(time.Second))
	vars, err := seed(ctx, sys)
	if err != nil {
		return Summary{}, err
	}
	vars["bearerToken"] = vars["accessToken"]
	vars["futureDate"] = time.Now().UTC().AddDate(0, 1, 7).Format(time.DateOnly)

	image := filepath.Join(dir, "image.png")
	png, _ := base64.StdEncoding.DecodeString(onePixelPNG)
	if err := os.WriteFile(image, png, 0o644); err != nil {
		return Summary{}, err
	}
	say("generating the collection (Portman)")
	coll, err := collection(ctx, tools, doc, dir, sys.Gateway, image, w)
	if err != nil {
		return Summary{}, err
	}
	say("running it (Newman)")
	rep := filepath.Join(dir, "newman.json")
	if err := newman(ctx, tools, coll, rep, vars, w); err != nil {
		return Summary{}, err
	}
	s, err := readReport(doc, rep)
	if err != nil {
		return Summary{}, err
	}
	if lintErr != nil {
		s.Uncovered["(document)"] = "redocly lint reports errors (above)"
	}
	s.Print(w)
	say("done in %s", time.Since(t0).Round(time.Second))
	return s, nil
}

// tail is the last n lines of the file at path.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
