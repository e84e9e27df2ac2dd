// Command prodlike is `make prodlike`: it renders the prod overlay of
// deploy/k8s with the Kustomize API and runs what it describes on this
// machine (tools/internal/prodlike, docs/prodlike.md) — a 3-node NATS
// cluster, Redis with 3 Sentinels, PostgreSQL with the CloudNativePG roles
// and bootstrap, the migrate step, two pods of every Deployment behind a
// readiness-aware balancer per Service, Mailpit — on loopback with free
// ports under a temporary directory, prints where everything is and runs
// until Ctrl-C. With -check it sends the seed's booking curl through the
// gateway, waits for its email in Mailpit and exits. It never touches the
// shared PostgreSQL, Redis or NATS, nor a running `make run`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/acube/platform/tools/internal/prodlike"
	"github.com/acube/platform/tools/internal/stack"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "prodlike:", err)
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	bin      string
	replicas int
	check    bool
	keep     bool
	timeout  time.Duration
}

func parse(args []string, stdout io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("prodlike", flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.StringVar(&o.bin, "bin", "bin", "directory holding the five services, mailpit and nats-server (make build, make prodlike)")
	fs.IntVar(&o.replicas, "replicas", 2, "pods of every Deployment")
	fs.BoolVar(&o.check, "check", false, "send the seed's booking through the gateway, wait for its email, and exit")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory (logs, databases) afterwards")
	fs.DurationVar(&o.timeout, "timeout", 3*time.Minute, "bound on bringing the topology up (and on -check)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.replicas < 1 {
		return o, errors.New("-replicas must be at least 1")
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout io.Writer) (err error) {
	o, err := parse(args, stdout)
	if err != nil {
		return err
	}
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	root, err := stack.Root(wd)
	if err != nil {
		return err
	}
	bin := o.bin
	if !filepath.IsAbs(bin) {
		bin = filepath.Join(root, bin)
	}
	for _, n := range append(stack.Services(), "mailpit", "nats-server") {
		if _, err := os.Stat(filepath.Join(bin, n)); err != nil {
			return fmt.Errorf("%s not built (run make prodlike, which builds it): %w", n, err)
		}
	}
	dir, err := os.MkdirTemp("", "acube-prodlike-")
	if err != nil {
		return fmt.Errorf("temporary directory: %w", err)
	}
	defer func() {
		if o.keep || err != nil {
			fmt.Fprintf(stdout, "prodlike | kept %s\n", dir)
			return
		}
		_ = os.RemoveAll(dir)
	}()
	fmt.Fprintf(stdout, "prodlike | rendering deploy/k8s/overlays/prod and starting it under %s\n", dir)
	upCtx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	started := time.Now()
	top, err := prodlike.Up(upCtx, prodlike.Config{Root: root, Bin: bin, Replicas: o.replicas, Dir: dir})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, top.Close()) }()
	fmt.Fprintf(stdout, "prodlike | up in %s\n", time.Since(started).Round(100*time.Millisecond))
	top.Print(stdout)
	roles, err := top.Postgres.ServiceRoles(upCtx)
	if err != nil {
		return err
	}
	for _, r := range roles {
		fmt.Fprintf(stdout, "prodlike | the services log in as %s: superuser %v, createdb %v, createrole %v, create on the database %v\n",
			r.Role, r.Superuser, r.CreateDB, r.CreateRole, r.CreateOnDatabase)
	}
	if o.check {
		id, err := top.SeedBooking(upCtx, top.Mailpit)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "prodlike | check: the seed's booking %s was answered 201 and its email is in Mailpit\n", id)
		return nil
	}
	fmt.Fprintln(stdout, "prodlike | running; Ctrl-C stops everything")
	<-ctx.Done()
	fmt.Fprintln(stdout, "prodlike | stopping")
	return nil
}
