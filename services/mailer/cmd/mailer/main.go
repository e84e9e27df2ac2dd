// Command mailer sends the platform's emails: it consumes the domain events
// that call for one (BOOKING, ADMIN and EXPORTER streams), renders them from
// the embedded templates and hands them to SMTP, once per event and
// recipient. Without SMTP_HOST it logs the seed's [MOCK EMAIL] lines instead.
//
//	mailer                 run the service
//	mailer migrate         apply the schema's migrations as its owner (MIGRATE_DATABASE_URL) and exit
//	mailer preview NAME    write NAME.html, NAME.txt and NAME.eml with sample data
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	netmail "net/mail"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // MAIL_TIMEZONE works in images without a zoneinfo database

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/time/rate"

	libconfig "github.com/acube/platform/libs/config"
	"github.com/acube/platform/libs/consume"
	"github.com/acube/platform/libs/lifecycle"
	"github.com/acube/platform/libs/logging"
	"github.com/acube/platform/libs/managelink"
	"github.com/acube/platform/libs/periodic"
	"github.com/acube/platform/libs/stream"
	"github.com/acube/platform/libs/web"
	"github.com/acube/platform/services/mailer/internal/config"
	"github.com/acube/platform/services/mailer/internal/delivery"
	"github.com/acube/platform/services/mailer/internal/email"
	"github.com/acube/platform/services/mailer/internal/sender"
	"github.com/acube/platform/services/mailer/internal/store"
	"github.com/acube/platform/services/mailer/internal/templates"
)

const schema = "mailer"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch {
	case len(os.Args) > 1 && os.Args[1] == "migrate":
		err = migrate(ctx, os.LookupEnv, os.Stdout)
	case len(os.Args) > 1 && os.Args[1] == "preview":
		err = preview(os.Args[2:], os.LookupEnv, os.Stdout)
	default:
		err = run(ctx, os.LookupEnv, os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mailer:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, lookupEnv libconfig.LookupEnv, stdout io.Writer) error {
	cfg, err := config.Load(lookupEnv)
	if err != nil {
		return err
	}
	log := logging.New(stdout, "mailer", cfg.LogLevel)
	log.Info("starting", libconfig.LogValue(&cfg)...)

	composer, from, err := newComposer(cfg)
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
	nc, js, err := stream.Connect(cfg.NATSURL, "mailer", log, stream.NKeyFile(cfg.NATSNKeyFile), stream.CAFile(cfg.NATSCAFile))
	if err != nil {
		return err
	}
	defer nc.Close()

	reg := web.NewRegistry()
	httpMetrics, err := web.NewHTTPMetrics(reg)
	if err != nil {
		return err
	}
	consumeMetrics, err := consume.NewMetrics(reg)
	if err != nil {
		return err
	}
	mailMetrics, err := delivery.NewMetrics(reg)
	if err != nil {
		return err
	}
	// The mailer owns no stream; it consumes, so it creates DEADLETTER
	// (the admin's) if missing, with the platform's replicas.
	streams, err := stream.NewDeclarer(nc, js, reg, log, stream.DeclarerConfig{Specs: []stream.Spec{
		stream.DeadLetter(cfg.StreamReplicas).IfMissing(),
	}})
	if err != nil {
		return err
	}

	snd, closeSender, err := newSender(cfg, from, log)
	if err != nil {
		return err
	}
	defer func() {
		if err := closeSender(); err != nil {
			log.Warn("closing smtp connections failed", "error", err.Error())
		}
	}()
	var limiter *rate.Limiter
	if cfg.MailRate > 0 {
		limiter = rate.NewLimiter(rate.Limit(cfg.MailRate), max(1, int(math.Ceil(cfg.MailRate))))
	}
	ackMax, ackWindow, err := cfg.RecipientLimit()
	if err != nil {
		return err
	}
	ackLimit := store.Limit{Max: ackMax, Window: ackWindow}
	handler := delivery.New(composer, snd, limiter, mailMetrics, log).LimitRecipients(pool, ackLimit)

	backoff, err := cfg.Backoff()
	if err != nil {
		return err
	}
	// The mailer serves only probes and metrics; PostgreSQL alone decides
	// readiness, NATS and the consumers are details.
	probes := web.NewProbes(reg, map[string]web.Check{"postgres": pool.Ping})
	probes.Detail("nats", streams.Connected)
	probes.Detail("streams", streams.Streams)
	var consumers []lifecycle.Task
	for _, cc := range delivery.Consumers() {
		cc.Concurrency, cc.BatchSize, cc.MaxAttempts, cc.Backoff = cfg.Concurrency, cfg.Batch(), cfg.MaxAttempts, backoff
		r, err := consume.NewEffect(pool, js, consumeMetrics, log, cc, handler.Effect())
		if err != nil {
			return err
		}
		consumers = append(consumers, r.Run)
		probes.Detail("consumer_"+strings.ToLower(cc.Stream), func(context.Context) error { return r.Ready() })
	}
	r := web.NewRouter(log, httpMetrics, probes)

	// The SMTP connections close (deferred above) after the lifecycle has
	// drained the consumers that use them.
	lc, err := lifecycle.New(lifecycle.Config{
		Server: web.NewServer(cfg.Addr, r), Probes: probes,
		Declare:   streams.Run,
		Consumers: consumers,
		Workers:   []lifecycle.Task{func(ctx context.Context) error { janitor(ctx, pool, cfg.Retention, ackLimit, log); return nil }},
		NATS:      stream.Drain(nc, log), Pool: pool, Grace: cfg.ShutdownGrace, Log: log,
	})
	if err != nil {
		return err
	}
	return lc.Run(ctx)
}

// janitor purges, hourly, the records of emails older than keep and the
// acknowledgement claims of recipients idle for a whole window of acks.
func janitor(ctx context.Context, pool *pgxpool.Pool, keep time.Duration, acks store.Limit, log *slog.Logger) {
	periodic.Run(ctx, time.Hour, func(ctx context.Context) {
		if n, err := store.Purge(ctx, pool, keep); err != nil && ctx.Err() == nil {
			log.Warn("purge delivery records", "error", err.Error())
		} else if n > 0 {
			log.Info("purged delivery records", "count", n, "older_than", keep.String())
		}
		idle := acks.Window
		if acks.Max == 0 {
			idle = 0 // no cap: the claims of an earlier one all go
		}
		if n, err := store.PurgeAcks(ctx, pool, idle); err != nil && ctx.Err() == nil {
			log.Warn("purge acknowledgement claims", "error", err.Error())
		} else if n > 0 {
			log.Info("purged acknowledgement claims", "count", n, "idle_for", idle.String())
		}
	})
}

// newComposer loads the templates and the settings emails are rendered with.
func newComposer(cfg config.Config) (*email.Composer, *netmail.Address, error) {
	from, err := netmail.ParseAddress(cfg.MailFrom)
	if err != nil {
		return nil, nil, fmt.Errorf("parse MAIL_FROM: %w", err)
	}
	set, err := templates.Load()
	if err != nil {
		return nil, nil, err
	}
	domain := from.Address[strings.LastIndexByte(from.Address, '@')+1:]
	links, err := managelink.NewSigner([]byte(cfg.LinkSecret))
	if err != nil {
		return nil, nil, fmt.Errorf("MAILER_LINK_SECRET: %w", err)
	}
	composer, err := email.NewComposer(set, cfg.PublicBaseURL, links, cfg.Location(), domain, email.WithManageTemplates(cfg.ManageTemplates()))
	if err != nil {
		return nil, nil, err
	}
	return composer, from, nil
}

// newSender picks SMTP, or the [MOCK EMAIL] log when no host is set.
func newSender(cfg config.Config, from *netmail.Address, log *slog.Logger) (sender.Sender, func() error, error) {
	if cfg.SMTP.Host == "" {
		log.Warn("SMTP_HOST is empty: emails are logged as [MOCK EMAIL] lines, not sent")
		return sender.NewLog(log), func() error { return nil }, nil
	}
	s, err := sender.NewSMTP(sender.SMTPConfig{
		Host: cfg.SMTP.Host, Port: cfg.SMTP.Port, Username: cfg.SMTP.Username, Password: cfg.SMTP.Password,
		TLS: cfg.SMTP.TLS, Timeout: cfg.SMTP.Timeout, Conns: cfg.SMTP.Conns,
	}, from, log)
	if err != nil {
		return nil, nil, err
	}
	return s, s.Close, nil
}
