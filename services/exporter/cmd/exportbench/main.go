// Command exportbench measures the audit export against psql's \copy on the
// same data (make bench-export): it fills a fresh database's projection
// with generated rows by COPY, then exports 100k and all rows both ways,
// each as a subprocess, and prints the times, their ratio and the peak
// memory (maxrss) of each process.
//
//	exportbench -rows 1000000 -small 100000     the benchmark
//	exportbench -mode export -out FILE [-to T]  one export (run by the benchmark)
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/acube/platform/libs/logging"
	"github.com/acube/platform/libs/postgres"
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
	out   string
	to    string
	sync  bool
	dir   string
	reuse bool
	prof  string
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	var o options
	fs := flag.NewFlagSet("exportbench", flag.ContinueOnError)
	fs.StringVar(&o.mode, "mode", "bench", "bench, or export (one export, for the benchmark's subprocess)")
	fs.StringVar(&o.db, "db", "postgres://postgres@127.0.0.1:5432/acube_bench_export?sslmode=disable", "benchmark database; dropped and recreated")
	fs.IntVar(&o.rows, "rows", 1_000_000, "rows in the projection")
	fs.IntVar(&o.small, "small", 100_000, "rows of the smaller export")
	fs.StringVar(&o.out, "out", "", "export: output file")
	fs.StringVar(&o.to, "to", "", "export: RFC 3339 upper bound of occurred_at (exclusive)")
	fs.BoolVar(&o.sync, "sync", false, "export: fsync the file at the end, as the service does")
	fs.StringVar(&o.dir, "dir", "", "bench: where the CSV files go [a temporary directory]")
	fs.StringVar(&o.prof, "cpuprofile", "", "export: write a CPU profile to this file")
	fs.BoolVar(&o.reuse, "reuse", false, "bench: keep the data of an earlier run when it has -rows rows")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := logging.New(os.Stderr, "exportbench", "warn")
	switch o.mode {
	case "export":
		return exportOnce(ctx, o, stdout, log)
	case "bench":
		return bench(ctx, o, stdout, log)
	default:
		return fmt.Errorf("unknown mode %q", o.mode)
	}
}

// exportOnce runs the service's export code path (store.Stream, which
// counts and then streams in one snapshot, and export.WriteCSV) into a file
// and prints {"rows":…,"bytes":…}.
func exportOnce(ctx context.Context, o options, stdout io.Writer, log *slog.Logger) error {
	var f audit.Filter
	if o.to != "" {
		to, err := time.Parse(time.RFC3339, o.to)
		if err != nil {
			return fmt.Errorf("parse -to: %w", err)
		}
		f.To = to
	}
	if o.prof != "" {
		pf, err := os.Create(o.prof)
		if err != nil {
			return fmt.Errorf("create profile: %w", err)
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return fmt.Errorf("start profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	pool, err := postgres.Open(ctx, postgres.Config{URL: o.db, Schema: schema, MaxConns: 2})
	if err != nil {
		return err
	}
	defer pool.Close()
	file, err := os.Create(o.out)
	if err != nil {
		return fmt.Errorf("create %s: %w", o.out, err)
	}
	defer file.Close()
	var c export.Counters
	rows, err := export.WriteCSV(ctx, store.New(pool), f, file, &c)
	if err != nil {
		return err
	}
	if o.sync {
		if err := file.Sync(); err != nil {
			return fmt.Errorf("sync %s: %w", o.out, err)
		}
	}
	info, err := file.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", o.out, err)
	}
	log.Debug("exported", "rows", rows)
	hwm, err := vmHWM("self")
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(map[string]int64{"rows": rows, "bytes": info.Size(), "vmhwm_kb": hwm})
}

func bench(ctx context.Context, o options, stdout io.Writer, log *slog.Logger) error {
	if o.small <= 0 || o.small > o.rows {
		return errors.New("-small must be between 1 and -rows")
	}
	if _, err := exec.LookPath("psql"); err != nil {
		return fmt.Errorf("the benchmark compares with psql: %w", err)
	}
	dir := o.dir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "exportbench"); err != nil {
			return fmt.Errorf("temporary directory: %w", err)
		}
		defer os.RemoveAll(dir)
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own executable: %w", err)
	}
	pool, err := prepare(ctx, o, stdout, log)
	if err != nil {
		return err
	}
	defer pool.Close()
	fmt.Fprintln(stdout, "vacuum analyze and warm-up...")
	if _, err := pool.Exec(ctx, `VACUUM ANALYZE audit_log`); err != nil {
		return fmt.Errorf("vacuum: %w", err)
	}
	if _, err := pool.Exec(ctx, `SELECT count(*), sum(length(changes::text)) FROM audit_log`); err != nil {
		return fmt.Errorf("warm up: %w", err)
	}

	fmt.Fprintf(stdout, "\n%-10s %-9s %10s %12s %10s %12s\n", "rows", "tool", "seconds", "bytes", "peak_rss_kb", "rows/s")
	var results []result
	for _, n := range []int{o.small, o.rows} {
		to := firstRow().Add(time.Duration(n) * time.Second).Format(time.RFC3339)
		query := `SELECT event_id, occurred_at, actor_id, actor_email, action, entity, entity_id, client_ip, changes::text ` +
			`FROM exporter.audit_log WHERE occurred_at < '` + to + `' ORDER BY occurred_at, event_id`
		psqlOut := filepath.Join(dir, fmt.Sprintf("psql-%d.csv", n))
		ps, err := measure(ctx, exec.Command("psql", o.db, "-X", "-q", "-v", "ON_ERROR_STOP=1",
			"-c", `\copy (`+query+`) TO '`+psqlOut+`' CSV HEADER`))
		if err != nil {
			return fmt.Errorf("psql \\copy: %w", err)
		}
		ps.tool, ps.rows, ps.bytes = "psql", n, fileSize(psqlOut)
		ours := filepath.Join(dir, fmt.Sprintf("exporter-%d.csv", n))
		ex, err := measure(ctx, exec.Command(self, "-mode", "export", "-db", o.db, "-out", ours, "-to", to))
		if err != nil {
			return fmt.Errorf("exporter: %w", err)
		}
		ex.tool, ex.bytes = "exporter", fileSize(ours)
		var got struct {
			Rows    int   `json:"rows"`
			VmHWMkB int64 `json:"vmhwm_kb"`
		}
		if err := json.Unmarshal(ex.stdout, &got); err != nil || got.Rows != n {
			return fmt.Errorf("exporter wrote %d rows (%v), want %d", got.Rows, err, n)
		}
		// The child's own high-water mark is exact; the sampled one may
		// miss a last peak.
		ex.rows, ex.maxRSS = got.Rows, max(ex.maxRSS, got.VmHWMkB)
		for _, r := range []result{ps, ex} {
			fmt.Fprintf(stdout, "%-10d %-9s %10.3f %12d %10d %12.0f\n", r.rows, r.tool, r.elapsed.Seconds(), r.bytes, r.maxRSS, float64(r.rows)/r.elapsed.Seconds())
		}
		results = append(results, ps, ex)
	}
	psSmall, exSmall, psBig, exBig := results[0], results[1], results[2], results[3]
	speed := psBig.elapsed.Seconds() / exBig.elapsed.Seconds()
	rss := float64(exBig.maxRSS) / float64(exSmall.maxRSS)
	fmt.Fprintf(stdout, "\nspeed vs psql at %d rows: %.2fx (target >= 1.20x): %s\n", o.rows, speed, verdict(speed >= 1.2))
	fmt.Fprintf(stdout, "speed vs psql at %d rows: %.2fx\n", o.small, psSmall.elapsed.Seconds()/exSmall.elapsed.Seconds())
	fmt.Fprintf(stdout, "exporter peak RSS %d rows / %d rows: %d kB / %d kB = %.2fx (target <= 1.20x): %s\n",
		o.rows, o.small, exBig.maxRSS, exSmall.maxRSS, rss, verdict(rss <= 1.2))
	return nil
}

// prepare returns a pool on a benchmark database holding o.rows generated
// rows: the one of an earlier run with -reuse, else a new one.
func prepare(ctx context.Context, o options, stdout io.Writer, log *slog.Logger) (*pgxpool.Pool, error) {
	if o.reuse {
		pool, err := postgres.Open(ctx, postgres.Config{URL: o.db, Schema: schema, MaxConns: 2})
		if err == nil {
			var n int
			if err = pool.QueryRow(ctx, `SELECT count(*) FROM audit_log`).Scan(&n); err == nil && n == o.rows {
				fmt.Fprintf(stdout, "reusing %d rows\n", n)
				return pool, nil
			}
			pool.Close()
		}
	}
	if err := recreate(ctx, o.db); err != nil {
		return nil, err
	}
	pool, err := postgres.Open(ctx, postgres.Config{URL: o.db, Schema: schema, MaxConns: 2})
	if err != nil {
		return nil, err
	}
	if err := postgres.Migrate(ctx, pool, schema, log, store.Migrations()); err != nil {
		pool.Close()
		return nil, err
	}
	fmt.Fprintf(stdout, "generating %d audit rows by COPY...\n", o.rows)
	start := time.Now()
	if err := generate(ctx, pool, o.rows); err != nil {
		pool.Close()
		return nil, err
	}
	fmt.Fprintf(stdout, "generated in %.1fs\n", time.Since(start).Seconds())
	return pool, nil
}

type result struct {
	tool    string
	rows    int
	bytes   int64
	elapsed time.Duration
	maxRSS  int64 // peak resident set, kB
	stdout  []byte
}

// measure runs cmd to its end and returns its wall time and peak RSS.
// The peak is sampled from /proc/<pid>/status (VmHWM) while it runs:
// getrusage's maxrss of a child is useless here, since Go starts children
// with vfork and the child's figure then includes this process's memory.
func measure(ctx context.Context, cmd *exec.Cmd) (result, error) {
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return result{}, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	pid := strconv.Itoa(cmd.Process.Pid)
	stop := make(chan struct{})
	peak := make(chan int64, 1)
	go func() {
		var hwm int64
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			if v, err := vmHWM(pid); err == nil {
				hwm = max(hwm, v)
			}
			select {
			case <-stop:
				peak <- hwm
				return
			case <-t.C:
			}
		}
	}()
	err := cmd.Wait()
	elapsed := time.Since(start)
	close(stop)
	r := result{elapsed: elapsed, stdout: []byte(out.String()), maxRSS: <-peak}
	if err != nil {
		return result{}, fmt.Errorf("%s: %w: %s", cmd.Path, err, errOut.String())
	}
	return r, ctx.Err()
}

// vmHWM reads the peak resident set size, in kB, of a process ("self" or a pid).
func vmHWM(pid string) (int64, error) {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return 0, fmt.Errorf("read status of process %s: %w", pid, err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse VmHWM of process %s: %w", pid, err)
			}
			return kb, nil
		}
	}
	return 0, fmt.Errorf("no VmHWM for process %s", pid)
}

func fileSize(path string) int64 {
	info, err := os.Stat(path)
	if err != nil {
		return -1
	}
	return info.Size()
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

// recreate drops and creates the benchmark database.
func recreate(ctx context.Context, rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("parse -db: %w", err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	admin := *u
	admin.Path = "/postgres"
	conn, err := pgx.Connect(ctx, admin.String())
	if err != nil {
		return fmt.Errorf("connect to recreate %s: %w", name, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop %s: %w", name, err)
	}
	return postgres.EnsureDatabase(ctx, rawURL)
}

// generate fills audit_log with n varied rows, one second apart; some cells
// start with formula characters, so neutralising is part of the work.
func generate(ctx context.Context, pool *pgxpool.Pool, n int) error {
	actions := []string{"create", "update", "delete", "status_update", "login"}
	entities := []string{"session", "event", "volunteer", "contact", "admin"}
	admins := make([]string, 20)
	for i := range admins {
		admins[i] = uuid.NewString()
	}
	i := 0
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if i == n {
			return nil, nil
		}
		a := i % len(admins)
		email := fmt.Sprintf("admin%d@example.org", a)
		if i%1000 == 0 {
			email = "=HYPERLINK(\"http://x/\")"
		}
		changes := fmt.Sprintf(`{"status": ["pending", "confirmed"], "note": "row %d of the generated audit trail", "count": %d}`, i, i%97)
		row := []any{uuid.Must(uuid.NewV7()), firstRow().Add(time.Duration(i) * time.Second), admins[a], email,
			actions[i%len(actions)], entities[(i/5)%len(entities)], uuid.NewString(),
			fmt.Sprintf("10.%d.%d.%d", i%256, (i/256)%256, (i/65536)%256), changes}
		i++
		return row, nil
	})
	_, err := pool.CopyFrom(ctx, pgx.Identifier{"audit_log"},
		[]string{"event_id", "occurred_at", "actor_id", "actor_email", "action", "entity", "entity_id", "client_ip", "changes"}, src)
	if err != nil {
		return fmt.Errorf("copy %d rows: %w", n, err)
	}
	return nil
}
