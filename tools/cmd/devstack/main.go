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
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"

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
	bin := filepath.Join(root, cfg.BinDir)
	out := stack.NewOutput(stdout)
	say := func(format string, args ...any) { fmt.Fprintf(stdout, "devstack | "+format+"\n", args...) }

	db, err := stack.PrepareDatabase(ctx, stack.DatabaseConfig{Root: root, URL: cfg.DatabaseURL})
	if err != nil {
		return fmt.Errorf("%w (is PostgreSQL running on 127.0.0.1:5432?)", err)
	}
	// Each service's migrate step, once, as the init containers run it.
	if err := stack.Migrate(ctx, bin, db, out, stack.Services()...); err != nil {
		return err
	}
	say("database laid out as production's and migrated; the services serve as their app roles")

	natsURL := cfg.NATSURL
	if natsURL == "" {
		ns, err := startNATS(filepath.Join(data, "nats"), cfg.NATSPort)
		if err != nil {
			return err
		}
		defer func() { ns.Shutdown(); ns.WaitForShutdown(); say("nats stopped") }()
		natsURL = ns.ClientURL()
		say("in-process NATS with JetStream at %s (store %s)", natsURL, filepath.Join(data, "nats"))
	}

	env := []string{
		"NATS_URL=" + natsURL,
		"ADMIN_DATA_DIR=" + filepath.Join(data, "admin"),
		"BOOKING_DATA_DIR=" + filepath.Join(data, "booking"),
	}
	// Booking verifies the manage links the mailer mints: one secret,
	// kept under the data dir so links survive a restart.
	links, err := stack.LinkSecretEnv(filepath.Join(data, "booking"))
	if err != nil {
		return err
	}
	env = append(env, links...)
	if cfg.SMTPHost == "" {
		host, port, err := net.SplitHostPort(cfg.MailpitSMTP)
		if err != nil {
			return fmt.Errorf("DEV_MAILPIT_SMTP: %w", err)
		}
		mp, err := stack.Start(stack.Spec{
			Name: "mailpit", Bin: filepath.Join(bin, "mailpit"), Addr: cfg.MailpitUI,
			Args: []string{"--smtp", cfg.MailpitSMTP, "--listen", cfg.MailpitUI, "--database", filepath.Join(data, "mailpit.db"), "--quiet"},
		}, out)
		if err != nil {
			return err
		}
		defer func() { _ = mp.Stop(5 * time.Second) }()
		env = append(env, "SMTP_HOST="+host, "SMTP_PORT="+port)
	}

	// Start every service, gateway last; stop them in reverse on the way out.
	var procs []*stack.Process
	defer func() {
		for i := len(procs) - 1; i >= 0; i-- {
			if err := procs[i].Stop(30 * time.Second); err != nil {
				say("%v", err)
			}
		}
		say("stopped")
	}()
	exited := make(chan *stack.Process, len(stack.Services()))
	for _, name := range stack.Services() {
		svcEnv := env
		if slices.Contains(stack.DBServices(), name) {
			svcEnv = append(slices.Clone(env), "DATABASE_URL="+db.AppURL(name))
		}
		// Every port on loopback: the services are reached through the
		// gateway only, as in the cluster, and nothing bypasses its limits.
		addr, probe := stack.DefaultAddr(name), stack.DefaultProbeAddr(name)
		if name == "gateway" {
			addr = cfg.GatewayAddr
		}
		svcEnv = append(slices.Clone(svcEnv), stack.ListenEnv(name, addr, probe)...)
		p, err := stack.Start(stack.Spec{Name: name, Bin: filepath.Join(bin, name), Env: svcEnv, Addr: addr, ProbeAddr: probe}, out)
		if err != nil {
			return err
		}
		procs = append(procs, p)
		go func() { <-p.Done(); exited <- p }()
	}
	// Readiness is awaited after every service started. A service is ready
	// once its database answers; its streams and consumers come up in the
	// background (details in /readyz), whatever order the others start in.
	readyCtx, cancel := context.WithTimeout(ctx, cfg.ReadyWithin)
	defer cancel()
	for _, p := range procs {
		if err := p.WaitReady(readyCtx); err != nil {
			return err
		}
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
		say("  %-8s         http://%s/metrics  /healthz  /readyz", name, stack.DefaultProbeAddr(name))
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

func startNATS(storeDir string, port int) (*server.Server, error) {
	if err := os.MkdirAll(storeDir, 0o750); err != nil {
		return nil, fmt.Errorf("create nats store: %w", err)
	}
	ns, err := server.NewServer(&server.Options{
		ServerName: "acube-dev",
		Host:       "127.0.0.1",
		Port:       port,
		JetStream:  true,
		StoreDir:   storeDir,
		NoSigs:     true,
		NoLog:      true,
	})
	if err != nil {
		return nil, fmt.Errorf("configure in-process nats: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("in-process nats did not start (is port " + strconv.Itoa(port) + " free?)")
	}
	return ns, nil
}
