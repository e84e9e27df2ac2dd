// Command admin serves admin accounts and login, the audit log, bulk jobs
// and dead letters, and relays its events to JetStream.
//
//	admin                              serve (configuration from the environment)
//	admin migrate                      apply the schema's migrations as its owner (MIGRATE_DATABASE_URL) and exit
//	admin bootstrap --email ADDRESS    create the first superadmin; the password is read from standard input
package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/acube/platform/libs/authn"
	libconfig "github.com/acube/platform/libs/config"
	"github.com/acube/platform/libs/consume"
	"github.com/acube/platform/libs/lifecycle"
	"github.com/acube/platform/libs/logging"
	"github.com/acube/platform/libs/outbox"
	"github.com/acube/platform/libs/periodic"
	"github.com/acube/platform/libs/stream"
	"github.com/acube/platform/libs/web"
	"github.com/acube/platform/services/admin/internal/account"
	"github.com/acube/platform/services/admin/internal/config"
	"github.com/acube/platform/services/admin/internal/consumer"
	"github.com/acube/platform/services/admin/internal/deadletter"
	"github.com/acube/platform/services/admin/internal/httpapi"
	"github.com/acube/platform/services/admin/internal/job"
	"github.com/acube/platform/services/admin/internal/metrics"
	"github.com/acube/platform/services/admin/internal/pages"
	"github.com/acube/platform/services/admin/internal/password"
	"github.com/acube/platform/services/admin/internal/store"
	"github.com/acube/platform/services/admin/internal/token"
)

const schema = "admin"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch {
	case len(os.Args) > 1 && os.Args[1] == "migrate":
		err = migrate(ctx, os.LookupEnv, os.Stdout)
	case len(os.Args) > 1 && os.Args[1] == "bootstrap":
		err = bootstrap(ctx, os.Args[2:], os.LookupEnv, os.Stdin, os.Stdout)
	default:
		err = run(ctx, os.LookupEnv, os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "admin:", err)
		os.Exit(1)
	}
}

func newHasher(cfg config.Config, log *slog.Logger) (*password.Hasher, error) {
	p := password.Params{MemoryKiB: uint32(cfg.Argon2.MemoryKiB), Time: uint32(cfg.Argon2.Time), Threads: uint8(cfg.Argon2.Threads)}
	if cfg.Argon2.AllowWeak {
		log.Warn("argon2id parameters below OWASP's minimum are allowed; never in production",
			"memory_kib", p.MemoryKiB, "time", p.Time)
	}
	return password.NewHasher(p, cfg.Argon2.MaxVerify)
}

// accountConfig is the account rules; blocklist is the list of common
// passwords, loaded once (password.LoadBlocklist).
func accountConfig(cfg config.Config, blocklist *password.Blocklist) account.Config {
	th := cfg.Throttle
	return account.Config{
		Passwords:  password.Rules{MinLength: cfg.Argon2.MinLength, Blocklist: blocklist},
		RefreshTTL: cfg.Token.RefreshTTL, RefreshIdle: cfg.Token.RefreshIdle, RefreshGrace: cfg.Token.RefreshGrace,
		Throttle: account.Throttle{
			Client:   account.Policy{Free: th.ClientFree, Base: th.Base, Max: th.ClientMax, Reset: th.Reset},
			Account:  account.Policy{Free: th.AccountFree, Base: th.Base, Max: th.AccountMax, Reset: th.Reset},
			KnownFor: th.KnownClients,
		},
		InvitationTTL: cfg.Security.InvitationTTL, AcceptURL: cfg.Security.InvitationLink(),
		MFAIssuer: cfg.Security.MFAIssuer, MFARequiredForAdmins: cfg.Security.MFARequiredForAdmins,
	}
}

func loadKeys(cfg config.Config, log *slog.Logger) (*token.Keys, error) {
	signing, created, err := token.LoadOrCreate(cfg.Token.SigningKeyFile, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	if created {
		log.Warn("generated a development signing key; set ADMIN_SIGNING_KEY_FILE in production", "data_dir", cfg.DataDir)
	}
	var older []ed25519.PublicKey
	for _, path := range cfg.Token.VerifyKeyFiles {
		pub, err := token.LoadPublic(path)
		if err != nil {
			return nil, err
		}
		older = append(older, pub)
	}
	return token.NewKeys(signing, older...), nil
}

func run(ctx context.Context, lookupEnv libconfig.LookupEnv, stdout io.Writer) error {
	cfg, err := config.Load(lookupEnv)
	if err != nil {
		return err
	}
	log := logging.New(stdout, "admin", cfg.LogLevel)
	log.Info("starting", libconfig.LogValue(&cfg)...)
	clients, err := cfg.Clients()
	if err != nil {
		return err
	}

	pool, err := openDB(ctx, cfg)
	if err != nil {
		return err
	}
	// The lifecycle closes the pool and drains NATS; these only cover a
	// failure before it runs (both are no-ops once closed).
	defer pool.Close()

	keys, err := loadKeys(cfg, log)
	if err != nil {
		return err
	}
	verifier, err := authn.NewVerifier(authn.Config{Issuer: cfg.Token.Issuer, Audience: cfg.Token.Audience,
		StaticKeys: keys.Public(), Leeway: cfg.Token.VerifyLeeway})
	if err != nil {
		return err
	}
	hasher, err := newHasher(cfg, log)
	if err != nil {
		return err
	}

	nc, js, err := stream.Connect(cfg.NATSURL, "admin", log, stream.NKeyFile(cfg.NATSNKeyFile), stream.CAFile(cfg.NATSCAFile))
	if err != nil {
		return err
	}
	defer nc.Close()

	reg := web.NewRegistry()
	httpMetrics, err := web.NewHTTPMetrics(reg)
	if err != nil {
		return err
	}
	adminMetrics, err := metrics.New(reg)
	if err != nil {
		return err
	}
	consumerMetrics, err := consume.NewMetrics(reg)
	if err != nil {
		return err
	}
	// The admin service owns ADMIN, AUDIT and DEADLETTER, and reports
	// how full they are.
	owned := []stream.Spec{stream.Admin(cfg.StreamReplicas), stream.Audit(cfg.StreamReplicas), stream.DeadLetter(cfg.StreamReplicas)}
	streams, err := stream.NewDeclarer(nc, js, reg, log, stream.DeclarerConfig{Specs: owned})
	if err != nil {
		return err
	}
	if err := reg.Register(stream.NewUsage(js, owned...)); err != nil {
		return fmt.Errorf("register stream usage metrics: %w", err)
	}
	relay, err := outbox.NewRelay(pool, js, reg, log, outbox.RelayConfig{Schema: schema})
	if err != nil {
		return err
	}

	signer := token.NewSigner(keys, cfg.Token.Issuer, cfg.Token.Audience, cfg.Token.AccessTTL)
	blocklist, err := password.LoadBlocklist()
	if err != nil {
		return err
	}
	accountCfg := accountConfig(cfg, blocklist)
	// Replicas share the signing key, so they give one email the same
	// reference in "Login failed" lines.
	accountCfg.LogKey = keys.Derive("login log reference")
	accounts := account.NewService(store.NewAccounts(pool), hasher, signer, adminMetrics, accountCfg, time.Now)
	jobs := job.NewService(store.NewJobs(pool), adminMetrics, cfg.Bulk.MaxIDs, time.Now, job.WithLogger(log))
	deadLetters := deadletter.NewService(js, store.NewDeadLetters(pool), time.Now, deadletter.WithLogger(log))
	auditRunner, err := consumer.NewAudit(pool, js, consumerMetrics, log)
	if err != nil {
		return err
	}
	jobsRunner, err := consumer.NewJobs(pool, js, consumerMetrics, log, jobs)
	if err != nil {
		return err
	}

	api := httpapi.New(httpapi.Deps{
		Accounts: accounts, Jobs: jobs, Audit: store.NewAudit(pool), DeadLetters: deadLetters, Keys: keys,
		Verifier: verifier, Clients: clients, Metrics: adminMetrics, Log: log,
		SyncThreshold: cfg.Bulk.SyncThreshold, SyncWait: cfg.Bulk.SyncWait,
	})
	// Only PostgreSQL decides readiness: login, the audit log and jobs
	// work while NATS is down (events wait in the outbox).
	probes := web.NewProbes(reg, map[string]web.Check{"postgres": pool.Ping})
	probes.Detail("nats", streams.Connected)
	probes.Detail("streams", streams.Streams)
	probes.Detail("consumer_"+consumer.AuditDurable, func(context.Context) error { return auditRunner.Ready() })
	probes.Detail("consumer_"+consumer.JobsDurable, func(context.Context) error { return jobsRunner.Ready() })
	r := web.NewRouter(log, httpMetrics, probes)
	api.Routes(r)
	if err := pages.Mount(r, accounts, log, pages.Config{MinLength: cfg.Argon2.MinLength, ClientIP: clients.Addr}); err != nil {
		return err
	}

	lc, err := lifecycle.New(lifecycle.Config{
		Server: web.NewServer(cfg.Addr, r), Probes: probes,
		Declare:   streams.Run,
		Consumers: []lifecycle.Task{auditRunner.Run, jobsRunner.Run},
		Workers:   []lifecycle.Task{func(ctx context.Context) error { janitor(ctx, pool, log); return nil }},
		Relay:     relay.Run,
		NATS:      stream.Drain(nc, log), Pool: pool, Grace: cfg.ShutdownGrace, Log: log,
	})
	if err != nil {
		return err
	}
	return lc.Run(ctx)
}

// janitor purges expired refresh tokens and idle throttle counters hourly.
func janitor(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) {
	periodic.Run(ctx, time.Hour, func(ctx context.Context) {
		if err := store.Purge(ctx, pool, "24 hours"); err != nil && ctx.Err() == nil {
			log.Warn("purge expired login data", "error", err.Error())
		}
	})
}
