// Command devstack runs the whole platform on one machine for development:
// an in-process NATS server with JetStream (unless NATS_URL is set),
// Mailpit as the mail sink (unless SMTP_HOST is set), and the five
// services, each as its own process built from this repository. `make run`
// builds everything and runs it. The database is laid out as production's
// (the roles of deploy/k8s/infra/postgres/cluster.yaml, its bootstrap.sql),
// each service's migrate step runs once as its schema's owner, and the
// services serve as their app roles. Ctrl-C stops the services gateway
// first, then the mail sink and NATS.
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/acube/platform/libs/config"
	"github.com/acube/platform/tools/internal/stack"
)

// Config is the launcher's own settings; every service reads its own from
// the same environment.
type Config struct {
	DatabaseURL string        `env:"DATABASE_URL" default:"postgres://postgres@127.0.0.1:5432/acube?sslmode=disable" secret:"true" doc:"a superuser's URL of the database the services share (one schema each): the launcher lays it out as production's, each service migrates as its schema's owner and serves as its app role"`
	NATSURL     string        `env:"NATS_URL" doc:"external NATS; when empty an in-process server with JetStream is started"`
	NATSPort    int           `env:"DEV_NATS_PORT" default:"4250" doc:"port of the in-process NATS server (4222 is often a system NATS)"`
	DataDir     string        `env:"DEV_DATA_DIR" default:".data" doc:"where the local NATS store, mail database, keys and exports live"`
	BinDir      string        `env:"DEV_BIN_DIR" default:"bin" doc:"where make put the binaries"`
	SMTPHost    string        `env:"SMTP_HOST" doc:"external SMTP server; when empty Mailpit is started"`
	GatewayAddr string        `env:"DEV_GATEWAY_ADDR" default:"127.0.0.1:8001" doc:"where make run's gateway takes API requests: loopback, like every other port of make run; :8001 opens the API (only the API, through the gateway's limits) to the network"`
	MailpitUI   string        `env:"DEV_MAILPIT_UI" default:"127.0.0.1:8025" doc:"Mailpit web UI and API address"`
	MailpitSMTP string        `env:"DEV_MAILPIT_SMTP" default:"127.0.0.1:1025" doc:"Mailpit SMTP address"`
	ReadyWithin time.Duration `env:"DEV_READY_TIMEOUT" default:"90s" doc:"how long the services may take to become ready"`
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.LookupEnv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "devstack:", err)
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
	data := filepath.Join(root, cfg.DataDir)
	say := func(format string, args ...any) { fmt.Fprintf(stdout, "devstack | "+format+"\n", args...) }

	if err := os.MkdirAll(data, 0o750); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	var env []string
	if cfg.SMTPHost == "" {
		host, port, err := net.SplitHostPort(cfg.MailpitSMTP)
		if err != nil {
			return fmt.Errorf("DEV_MAILPIT_SMTP: %w", err)
		}
		mp, err := stack.Start(stack.Spec{
			Name: "mailpit", Bin: filepath.Join(root, cfg.BinDir, "mailpit"), Addr: cfg.MailpitUI,
			Args: []string{"--smtp", cfg.MailpitSMTP, "--listen", cfg.MailpitUI, "--database", filepath.Join(data, "mailpit.db"), "--quiet"},
		}, stack.NewOutput(stdout))
		if err != nil {
			return err
		}
		defer func() { _ = mp.Stop(5 * time.Second) }()
		env = append(env, "SMTP_HOST="+host, "SMTP_PORT="+port)
	}

	// The launcher the tests use, on make run's database, data dir and
	// fixed ports. Every port on loopback: the services are reached
	// through the gateway only, as in the cluster, and nothing bypasses
	// its limits.
	sys, err := stack.StartSystem(ctx, stack.SystemConfig{
		Root: root, Bin: filepath.Join(root, cfg.BinDir), DataDir: data,
		DatabaseURL: cfg.DatabaseURL, NATSURL: cfg.NATSURL, NATSPort: cfg.NATSPort,
		ExternalSMTP: true, Env: env, Output: stdout,
		Listen: func(name string) (string, string) {
			if name == "gateway" {
				return cfg.GatewayAddr, stack.DefaultProbeAddr(name)
			}
			return stack.DefaultAddr(name), stack.DefaultProbeAddr(name)
		},
		ReadyWithin: cfg.ReadyWithin, StopWithin: 30 * time.Second,
	})
	if err != nil {
		return err
	}
	defer func() {
		if err := sys.Close(); err != nil {
			say("%v", err)
		}
		say("stopped")
	}()
	exited := make(chan *stack.Process, len(sys.Procs))
	for _, p := range sys.Procs {
		go func() { <-p.Done(); exited <- p }()
	}
	say("database laid out as production's and migrated; the services serve as their app roles")
	if sys.NATS != nil {
		say("in-process NATS with JetStream at %s (store %s)", sys.NATSURL, filepath.Join(data, "nats"))
	}

	say("ready")
	api := cfg.GatewayAddr
	if host, port, err := net.SplitHostPort(api); err == nil && (host == "" || host == "0.0.0.0" || host == "::") {
		api = net.JoinHostPort("localhost", port)
		say("  the API listens on every interface (DEV_GATEWAY_ADDR=%s); everything else on loopback", cfg.GatewayAddr)
	}
	say("  API (gateway):   http://%s/api/...   e.g. curl -X POST http://localhost:8001/api/sessions/book", api)
	say("  API docs:        http://%s/api/docs", api)
	if cfg.SMTPHost == "" {
		say("  emails (Mailpit): http://%s", cfg.MailpitUI)
	}
	for _, name := range stack.Services() {
		say("  %-8s         http://%s/metrics  /healthz  /readyz", name, sys.Procs[name].ProbeAddr)
	}
	say("Ctrl-C stops everything.")

	select {
	case <-ctx.Done():
		say("stopping")
		return nil
	case p := <-exited:
		return fmt.Errorf("%s exited unexpectedly: %v", p.Name, p.Err())
	}
}
