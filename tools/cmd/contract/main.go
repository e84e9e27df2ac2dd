// Command contract checks the platform against its OpenAPI document with
// tools we did not write (docs/contract.md): redocly lint, then a
// Portman-generated collection run by Newman against the whole stack,
// started here with a database, NATS server and SMTP sink of its own.
// It prints what failed, grouped by owner and operation, and a summary,
// and exits non-zero on any failure or uncovered operation. `make
// contract` installs the npm tools and runs it.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/acube/platform/libs/config"
	"github.com/acube/platform/tools/internal/contract"
	"github.com/acube/platform/tools/internal/stack"
)

// Config is the command's settings.
type Config struct {
	DatabaseURL string `env:"CONTRACT_DATABASE_URL" default:"postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable" secret:"true" doc:"a superuser's URL of the PostgreSQL server the run creates its own database on (dropped afterwards)"`
	Dir         string `env:"CONTRACT_DIR" doc:"keep the run's binaries, Portman configuration, collection and Newman report here; empty uses a temporary directory"`
	Verbose     bool   `env:"CONTRACT_VERBOSE" default:"false" doc:"show the services' log lines"`
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.LookupEnv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "contract:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, lookupEnv config.LookupEnv, stdout io.Writer) error {
	var cfg Config
	if err := config.Load(lookupEnv, &cfg); err != nil {
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
	s, err := contract.Run(ctx, contract.Config{Root: root, DatabaseURL: cfg.DatabaseURL, Dir: cfg.Dir, Verbose: cfg.Verbose}, stdout)
	if err != nil {
		return err
	}
	return s.Err()
}
