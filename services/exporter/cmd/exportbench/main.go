// Command exportbench measures the audit export against psql's \copy on the
// same data (make bench-export): it fills a fresh database's projection
// with generated rows by COPY, starts a JetStream server of its own with
// the EXPORTS bucket, then, over several interleaved rounds, exports 100k
// and all rows both ways, each as a subprocess — psql into a file, the
// exporter's code path into the bucket as the service stores its files —
// reads each export back from the bucket as a download does, and prints
// the median times, the median ratio and its spread, CPU times and the
// peak memory of each process (docs/benchmarks-export.md), and the figures
// as benchresult lines (libs/benchresult) for `make bench`.
//
// It stays in the exporter module, not under tools, because its export and
// download subprocesses run the exporter's own code path (internal/audit,
// internal/export, internal/store), which Go's internal rule keeps to this
// module.
//
//	exportbench -rows 1000000 -small 100000 [-small-repeat 6] [-rounds 5] [-profile DIR]  the benchmark
//	exportbench -mode export -out NAME [-nats URL] [-to T]             one export (run by the benchmark)
//	exportbench -mode download -out NAME -nats URL                     one download (run by the benchmark)
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/acube/platform/libs/benchresult"
	"github.com/acube/platform/libs/logging"
	"github.com/acube/platform/libs/objstore"
	"github.com/acube/platform/libs/postgres"
	"github.com/acube/platform/libs/stream"
	"github.com/acube/platform/services/exporter/internal/audit"
	"github.com/acube/platform/services/exporter/internal/export"
	"github.com/acube/platform/services/exporter/internal/store"
)

const schema = "exporter"

// firstRow is the time of the first generated row; row i is i seconds later.
func firstRow() time.Time { return time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC) }

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "exportbench:", err)
		os.Exit(1)
	}
}

type options struct {
	mode  string
	db    string
	rows  int
	small int
	// smallRepeat is how many -small exports each side runs per round.
	smallRepeat int
	rounds      int
	out         string
	to          string
	sync        bool
	dir         string
	reuse       bool
	prof        string
	profile     string
	nats        string
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	var o options
	fs := flag.NewFlagSet("exportbench", flag.ContinueOnError)
	fs.StringVar(&o.mode, "mode", "bench", "bench; or export or download (one of each, for the benchmark's subprocesses)")
	fs.StringVar(&o.db, "db", "postgres://postgres@127.0.0.1:5432/acube_bench_export?sslmode=disable", "benchmark database; dropped and recreated")
	fs.IntVar(&o.rows, "rows", 1_000_000, "rows in the projection")
	fs.IntVar(&o.small, "small", 100_000, "rows of the smaller export")
	fs.IntVar(&o.smallRepeat, "small-repeat", 6, "bench: exports of -small rows per side per round, timed together, so each side runs for seconds rather than a start-up and a burst")
	fs.IntVar(&o.rounds, "rounds", benchresult.DefaultRounds, "bench: interleaved rounds; the figures are their medians")
	fs.StringVar(&o.profile, "profile", "", "bench: after the rounds, profile one more export and download of -rows rows into this directory")
	fs.StringVar(&o.out, "out", "", "export, download: the object in the EXPORTS bucket (with -nats), else the output file")
	fs.StringVar(&o.nats, "nats", "", "export, download: the JetStream server holding the EXPORTS bucket")
	fs.StringVar(&o.to, "to", "", "export: RFC 3339 upper bound of occurred_at (exclusive)")
	fs.BoolVar(&o.sync, "sync", false, "export into a file: fsync it at the end")
	fs.StringVar(&o.dir, "dir", "", "bench: where psql's CSV files and the JetStream store go [a temporary directory]")
	fs.StringVar(&o.prof, "cpuprofile", "", "export, download: write a CPU profile to this file")
	fs.BoolVar(&o.reuse, "reuse", false, "bench: keep the data of an earlier run when it has -rows rows")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := logging.New(os.Stderr, "exportbench", "warn")
	switch o.mode {
	case "export", "download":
		once := exportOnce
		if o.mode == "download" {
			once = downloadOnce
		}
		if o.prof == "" {
			return once(ctx, o, stdout, log)
		}
		return profiled(o.prof, func() error { return once(ctx, o, stdout, log) })
	case "bench":
		return bench(ctx, o, stdout, log)
	default:
		return fmt.Errorf("unknown mode %q", o.mode)
	}
}

// exportOnce runs the service's export code path (store.Stream, which
// estimates and then streams in one snapshot, and export.WriteCSV) into
// the bucket, or a file without -nats, and prints the rows, bytes, its
// peak RSS and its PostgreSQL backend's CPU time as JSON.
func exportOnce(ctx context.Context, o options, stdout io.Writer, log *slog.Logger) error {
	var f audit.Filter
	if o.to != "" {
		to, err := time.Parse(time.RFC3339, o.to)
		if err != nil {
			return fmt.Errorf("parse -to: %w", err)
		}
		f.To = to
	}
	// One connection, so the backend whose CPU time is read at the end is
	// the one that ran the export.
	pool, err := postgres.Open(ctx, postgres.Config{URL: o.db, Schema: schema, MaxConns: 1})
	if err != nil {
		return err
	}
	defer pool.Close()
	var c export.Counters
	var rows, size int64
	if o.nats != "" {
		// The worker's path: Files.Write streaming WriteCSV into the bucket.
		bucket, done, err := exportsBucket(o.nats, log)
		if err != nil {
			return err
		}
		defer done()
		size, err = bucket.Write(ctx, o.out, export.ContentType, func(w io.Writer) error {
			var err error
			rows, err = export.WriteCSV(ctx, store.New(pool), f, w, &c)
			return err
		})
		if err != nil {
			return err
		}
	} else if rows, size, err = exportFile(ctx, o, pool, f, &c); err != nil {
		return err
	}
	log.Debug("exported", "rows", rows)
	hwm, err := vmHWM("self")
	if err != nil {
		return err
	}
	var backendMS int64
	if err := pool.QueryRow(ctx, backendCPUQuery).Scan(&backendMS); err != nil {
		backendMS = -1 // not a superuser: unknown
	}
	return json.NewEncoder(stdout).Encode(map[string]int64{"rows": rows, "bytes": size, "vmhwm_kb": hwm, "backend_cpu_ms": backendMS})
}

// exportFile writes the export into the file o.out.
func exportFile(ctx context.Context, o options, pool *pgxpool.Pool, f audit.Filter, c *export.Counters) (int64, int64, error) {
	file, err := os.Create(o.out)
	if err != nil {
		return 0, 0, fmt.Errorf("create %s: %w", o.out, err)
	}
	defer file.Close()
	rows, err := export.WriteCSV(ctx, store.New(pool), f, file, c)
	if err != nil {
		return 0, 0, err
	}
	if o.sync {
		if err := file.Sync(); err != nil {
			return 0, 0, fmt.Errorf("sync %s: %w", o.out, err)
		}
	}
	info, err := file.Stat()
	if err != nil {
		return 0, 0, fmt.Errorf("stat %s: %w", o.out, err)
	}
	return rows, info.Size(), nil
}

// downloadOnce reads the object o.out from the bucket, as the download
// handler streams it, and prints {"bytes":…,"vmhwm_kb":…}.
func downloadOnce(ctx context.Context, o options, stdout io.Writer, log *slog.Logger) error {
	if o.nats == "" {
		return errors.New("download needs -nats")
	}
	bucket, done, err := exportsBucket(o.nats, log)
	if err != nil {
		return err
	}
	defer done()
	obj, err := bucket.Open(ctx, o.out)
	if err != nil {
		return err
	}
	defer obj.Close()
	n, err := io.Copy(io.Discard, obj)
	if err != nil {
		return fmt.Errorf("read %s: %w", o.out, err)
	}
	hwm, err := vmHWM("self")
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(map[string]int64{"bytes": n, "vmhwm_kb": hwm})
}

// exportsBucket connects to the server at url and returns the EXPORTS
// bucket and a function closing the connection.
func exportsBucket(url string, log *slog.Logger) (*objstore.Bucket, func(), error) {
	nc, js, err := stream.Connect(url, "exportbench", log)
	if err != nil {
		return nil, nil, err
	}
	b, err := objstore.New(js, objstore.Config{Bucket: stream.ExportFiles(1, stream.DefaultExportTTL).Name, ReadTimeout: time.Hour})
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return b, nc.Close, nil
}
