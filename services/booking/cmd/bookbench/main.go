// Command bookbench measures booking's write path — a validated session
// row and its booking.session.booked outbox event in one transaction —
// against pgbench running the same statements with the same number of
// clients, in one invocation on one machine, and prints the ratio
// (DESIGN §7: target ≥ 0.9×). It uses a database of its own, recreated
// empty on every run; the outbox relay does not run, on either side.
//
// The two sides run in BENCH_ROUNDS interleaved rounds (booking first in
// even rounds, pgbench first in odd ones, the tables emptied and
// PostgreSQL checkpointed before each side), after a warm-up of each,
// and the figure is the median of the per-round ratios with their spread,
// printed as a benchresult line (libs/benchresult) for `make
// bench`. It stays in the booking module, not under tools, because it
// calls booking's service and store (internal/booking, internal/store),
// which Go's internal rule keeps to this module.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/acube/platform/libs/benchresult"
	libconfig "github.com/acube/platform/libs/config"
	"github.com/acube/platform/libs/managelink"
	"github.com/acube/platform/libs/postgres"
	"github.com/acube/platform/services/booking/internal/booking"
	"github.com/acube/platform/services/booking/internal/migrations"
	"github.com/acube/platform/services/booking/internal/store"
)

// config is the benchmark's settings.
type config struct {
	DatabaseURL string        `env:"BENCH_DATABASE_URL" default:"postgres://postgres@127.0.0.1:5432/acube_bench_booking?sslmode=disable" doc:"database the benchmark recreates"`
	Clients     int           `env:"BENCH_CLIENTS" default:"8" doc:"concurrent clients, for both sides"`
	Duration    time.Duration `env:"BENCH_DURATION" default:"6s" doc:"length of each side's run in each round"`
	Rounds      int           `env:"BENCH_ROUNDS" default:"5" doc:"interleaved rounds of booking and pgbench"`
	PGBench     string        `env:"PGBENCH" default:"pgbench" doc:"pgbench binary"`
}

func main() {
	if err := run(context.Background(), os.LookupEnv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bookbench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, lookupEnv libconfig.LookupEnv, stdout io.Writer) error {
	var cfg config
	if err := libconfig.Load(lookupEnv, &cfg); err != nil {
		return err
	}
	if err := recreate(ctx, cfg.DatabaseURL); err != nil {
		return err
	}
	pool, err := postgres.Open(ctx, postgres.Config{URL: cfg.DatabaseURL, Schema: "booking", MaxConns: int32(cfg.Clients)})
	if err != nil {
		return err
	}
	defer pool.Close()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := postgres.Migrate(ctx, pool, "booking", quiet, migrations.Sets()...); err != nil {
		return err
	}
	svc, err := service(pool)
	if err != nil {
		return err
	}

	if cfg.Rounds < 1 {
		return fmt.Errorf("BENCH_ROUNDS=%d: want at least 1", cfg.Rounds)
	}
	fmt.Fprintf(stdout, "booking write path vs pgbench: %d clients, %s each, %d interleaved rounds, %d CPUs\n",
		cfg.Clients, cfg.Duration, cfg.Rounds, runtime.NumCPU())
	// Every run starts from empty tables and a fresh checkpoint (untimed),
	// so neither side meets a checkpoint's writes, or a table the other
	// filled, by chance.
	empty := func(ctx context.Context) error {
		if _, err := pool.Exec(ctx, `TRUNCATE sessions, outbox CASCADE`); err != nil {
			return fmt.Errorf("empty tables between runs: %w", err)
		}
		if _, err := pool.Exec(ctx, `CHECKPOINT`); err != nil {
			return fmt.Errorf("checkpoint between runs: %w", err)
		}
		return nil
	}
	// A warm-up of each side, not counted: the first run opens the pool's
	// connections and prepares its statements, and both sides' first run
	// grows the tables' files and PostgreSQL's caches.
	warm := cfg
	warm.Duration = max(time.Second, cfg.Duration/3).Round(time.Second)
	if err := empty(ctx); err != nil {
		return err
	}
	if _, err := goSide(ctx, svc, warm); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	if err := empty(ctx); err != nil {
		return err
	}
	if _, err := pgbench(ctx, warm); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	goRates, pgRates, err := benchresult.Interleave(ctx, cfg.Rounds,
		func(ctx context.Context, round int) (float64, error) {
			if err := empty(ctx); err != nil {
				return 0, err
			}
			rate, err := goSide(ctx, svc, cfg)
			if err == nil {
				fmt.Fprintf(stdout, "  round %d booking  Service.Book (validate, row + outbox, one tx): %9.0f bookings/s\n", round+1, rate)
			}
			return rate, err
		},
		func(ctx context.Context, round int) (float64, error) {
			if err := empty(ctx); err != nil {
				return 0, err
			}
			rate, err := pgbench(ctx, cfg)
			if err == nil {
				fmt.Fprintf(stdout, "  round %d pgbench  same INSERTs + pg_notify, -M prepared:         %9.0f tx/s\n", round+1, rate)
			}
			return rate, err
		})
	if err != nil {
		return err
	}
	res := benchresult.Result{Area: "booking", Name: "booking write path (row + outbox, one tx)", Unit: "tx/s",
		Ref: "pgbench, same statements and clients", Min: 0.9,
		Note: fmt.Sprintf("%d clients, %s per side per round", cfg.Clients, cfg.Duration)}.FromRounds(goRates, pgRates)
	fmt.Fprintf(stdout, "  medians: booking %.0f bookings/s, pgbench %.0f tx/s\n", res.Value, res.RefValue)
	fmt.Fprintf(stdout, "  ratio booking / pgbench: %.2fx, median of %d rounds (%.2fx to %.2fx) (target >= 0.90x)\n",
		res.Ratio(), res.Rounds, res.RatioMin, res.RatioMax)
	return benchresult.Print(stdout, res)
}

func service(pool *pgxpool.Pool) (*booking.Service, error) {
	signer, err := managelink.NewSigner([]byte(strings.Repeat("b", 32)))
	if err != nil {
		return nil, err
	}
	// The benchmark books sessions only: no image is stored, so the
	// service needs no image bucket (nor NATS).
	return booking.NewService(store.New(pool, store.Config{}), signer, nil, time.Now, booking.Config{
		PublicBaseURL: "http://localhost:8001", LinkTTL: 168 * time.Hour, CancelNotice: 24 * time.Hour}), nil
}

// goSide books sessions from cfg.Clients goroutines for cfg.Duration.
func goSide(ctx context.Context, svc *booking.Service, cfg config) (float64, error) {
	date := time.Now().UTC().AddDate(0, 1, 0).Format(time.DateOnly)
	req := booking.BookRequest{Email: "bench@example.org", Name: "Bench", Phone: "1234567890",
		SessionType: "individual", PreferredDate: date, Message: "Test"}
	var (
		done    atomic.Int64
		wg      sync.WaitGroup
		errOnce sync.Once
		first   error
	)
	runCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	start := time.Now()
	for range cfg.Clients {
		wg.Go(func() {
			for runCtx.Err() == nil {
				if _, _, err := svc.Book(runCtx, req, booking.IdempotencyKey{}); err != nil {
					if runCtx.Err() == nil {
						errOnce.Do(func() { first = err })
						cancel()
					}
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	if first != nil {
		return 0, fmt.Errorf("book: %w", first)
	}
	return float64(done.Load()) / time.Since(start).Seconds(), nil
}

// script is the same work for pgbench: the statements Store.BookSession
// and outbox.Add send, with a payload of the size booking writes.
const script = `\set d random(1, 700)
BEGIN;
INSERT INTO booking.sessions (id, email, name, phone, session_type, preferred_date, message, status, status_reason, status_actor, created_at, updated_at) VALUES (gen_random_uuid(), 'bench@example.org', 'Bench', '1234567890', 'individual', current_date + (:d)::int, 'Test', 'pending', '', '', now(), now());
WITH ins AS (INSERT INTO booking.outbox (id, subject, payload) VALUES (gen_random_uuid(), 'booking.session.booked', convert_to('{"id":"01900000-0000-7000-8000-000000000000","type":"booking.session.booked","source":"booking","occurred_at":"2030-01-01T00:00:00.000000Z","data":{"email":"bench@example.org","name":"Bench","session_id":"01900000-0000-7000-8000-000000000000","session_type":"individual","preferred_date":"2030-02-01","status":"pending","booked_at":"2030-01-01T00:00:00.000000Z","manage_expires":"2030-02-09T00:00:00Z"}}', 'UTF8'))) SELECT pg_notify('outbox_booking', '');
COMMIT;
`

// pgbench runs script with the same clients and duration.
func pgbench(ctx context.Context, cfg config) (float64, error) {
	dir, err := os.MkdirTemp("", "bookbench")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "book.sql")
	if err := os.WriteFile(file, []byte(script), 0o600); err != nil {
		return 0, err
	}
	conn, err := pgx.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return 0, err
	}
	cmd := exec.CommandContext(ctx, cfg.PGBench, "-n", "-M", "prepared", "-f", file,
		"-c", strconv.Itoa(cfg.Clients), "-j", strconv.Itoa(min(cfg.Clients, runtime.NumCPU())),
		"-T", strconv.Itoa(int(cfg.Duration.Seconds())),
		"-h", conn.Host, "-p", strconv.Itoa(int(conn.Port)), "-U", conn.User, conn.Database)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("pgbench: %w: %s", err, out)
	}
	m := regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`).FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("pgbench printed no tps: %s", out)
	}
	return strconv.ParseFloat(string(m[1]), 64)
}

func recreate(ctx context.Context, url string) error {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return fmt.Errorf("parse %s: %w", url, err)
	}
	name := cfg.Database
	cfg.Database = "postgres"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect to recreate %s: %w", name, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop %s: %w", name, err)
	}
	return postgres.EnsureDatabase(ctx, url)
}
