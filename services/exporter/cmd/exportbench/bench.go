package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/acube/platform/libs/benchresult"
	"github.com/acube/platform/libs/objstore"
)

// bench runs the benchmark: o.rounds rounds, each exporting o.small and
// then o.rows rows with psql and with the exporter (which of the two goes
// first alternates from round to round) and reading the exporter's object
// back; then medians and the ratio's spread.
func bench(ctx context.Context, o options, stdout io.Writer, log *slog.Logger) error {
	if o.small <= 0 || o.small > o.rows {
		return errors.New("-small must be between 1 and -rows")
	}
	if o.rounds < 1 {
		return errors.New("-rounds must be at least 1")
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
	ns, err := startNATS(ctx, dir)
	if err != nil {
		return err
	}
	defer ns.Shutdown()
	// Quiet: closing this connection would log a disconnection.
	bucket, done, err := exportsBucket(ns.ClientURL(), slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer done()
	fmt.Fprintln(stdout, "vacuum analyze and warm-up...")
	if _, err := pool.Exec(ctx, `VACUUM ANALYZE audit_log`); err != nil {
		return fmt.Errorf("vacuum: %w", err)
	}
	if _, err := pool.Exec(ctx, `SELECT count(*), sum(length(changes::text)) FROM audit_log`); err != nil {
		return fmt.Errorf("warm up: %w", err)
	}

	r := &runner{o: o, dir: dir, self: self, nats: ns.ClientURL(), bucket: bucket}
	if err := r.warmUp(ctx, o.small); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	loadBefore := benchresult.LoadAverage()
	sizes := []int{o.small, o.rows}
	// A side's figure is the total of reps exports in a row, so that each
	// side of a round lasts about as long as one export of -rows rows:
	// a 100k-row export alone lasts a third of a second, in which process
	// start-up and one noisy moment of the machine weigh as much as the
	// export.
	reps := map[int]int{o.small: max(1, o.smallRepeat), o.rows: 1}
	fmt.Fprintf(stdout, "\n%d rounds after a warm-up export each way (not counted), %d exports per side per round at %d rows; load average %s\n",
		o.rounds, reps[o.small], o.small, loadBefore)
	rounds := make(map[int][]round, len(sizes))
	for i := 1; i <= o.rounds; i++ {
		for _, n := range sizes {
			rd, err := r.round(ctx, n, i, reps[n], i%2 == 1)
			if err != nil {
				return err
			}
			rd = rd.per(reps[n])
			fmt.Fprintf(stdout, "round %d %7d rows: psql %.3f s, exporter %.3f s: %.2fx; download %.3f s; cpu s: psql %.2f + backend %.2f, exporter %.2f + backend %.2f + nats %.2f, download %.2f + nats %.2f\n",
				i, n, rd.psql.elapsed.Seconds(), rd.export.elapsed.Seconds(), rd.ratio(), rd.download.elapsed.Seconds(),
				rd.psql.cpu.Seconds(), rd.psql.backendCPU.Seconds(), rd.export.cpu.Seconds(), rd.export.backendCPU.Seconds(),
				rd.export.selfCPU.Seconds(), rd.download.cpu.Seconds(), rd.download.selfCPU.Seconds())
			rounds[n] = append(rounds[n], rd)
		}
	}
	loadAfter := benchresult.LoadAverage()
	if o.profile != "" {
		if err := r.profile(ctx, o.rows); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "CPU profiles of one more (untimed) export and download of %d rows in %s\n", o.rows, o.profile)
	}

	fmt.Fprintf(stdout, "\nmedians of %d rounds (seconds, rows/s), highest peak RSS; load average %s before, %s after\n", o.rounds, loadBefore, loadAfter)
	fmt.Fprintf(stdout, "%-10s %-9s %10s %12s %10s %12s\n", "rows", "tool", "seconds", "bytes", "peak_rss_kb", "rows/s")
	sum := make(map[int]summary, len(sizes))
	for _, n := range sizes {
		s := summarise(rounds[n])
		sum[n] = s
		for _, r := range []result{s.psql, s.export, s.download} {
			fmt.Fprintf(stdout, "%-10d %-9s %10.3f %12d %10d %12.0f\n", n, r.tool, r.elapsed.Seconds(), r.bytes, r.maxRSS, float64(n)/r.elapsed.Seconds())
		}
	}
	fmt.Fprintf(stdout, "\nCPU seconds, medians (client + PostgreSQL backend + JetStream server = total)\n")
	for _, n := range sizes {
		s := sum[n]
		ps, ex, dl := s.psql, s.export, s.download
		fmt.Fprintf(stdout, "%-10d psql %.2f + %.2f = %.2f   exporter %.2f + %.2f + %.2f = %.2f   download %.2f + %.2f = %.2f\n", n,
			ps.cpu.Seconds(), ps.backendCPU.Seconds(), (ps.cpu + ps.backendCPU).Seconds(),
			ex.cpu.Seconds(), ex.backendCPU.Seconds(), ex.selfCPU.Seconds(), (ex.cpu + ex.backendCPU + ex.selfCPU).Seconds(),
			dl.cpu.Seconds(), dl.selfCPU.Seconds(), (dl.cpu + dl.selfCPU).Seconds())
	}
	big, small := sum[o.rows], sum[o.small]
	fmt.Fprintf(stdout, "\nspeed vs psql at %d rows: %.2fx, median of %d rounds (%.2fx to %.2fx) (target >= 1.20x): %s\n",
		o.rows, big.ratio, o.rounds, big.minRatio, big.maxRatio, verdict(big.ratio >= 1.2))
	fmt.Fprintf(stdout, "speed vs psql at %d rows: %.2fx, median of %d rounds (%.2fx to %.2fx)\n",
		o.small, small.ratio, o.rounds, small.minRatio, small.maxRatio)
	rss := float64(big.export.maxRSS) / float64(small.export.maxRSS)
	fmt.Fprintf(stdout, "exporter peak RSS %d rows / %d rows: %d kB / %d kB = %.2fx (target <= 1.20x): %s\n",
		o.rows, o.small, big.export.maxRSS, small.export.maxRSS, rss, verdict(rss <= 1.2))
	fmt.Fprintf(stdout, "download peak RSS %d rows / %d rows: %d kB / %d kB = %.2fx\n",
		o.rows, o.small, big.download.maxRSS, small.download.maxRSS, float64(big.download.maxRSS)/float64(small.download.maxRSS))
	return printResults(stdout, o, rounds)
}

// printResults prints the benchmark's figures as result lines: the speed
// against psql at both sizes and the exporter's peak RSS at -rows against
// -small, each from the per-round figures (median ratio and spread).
func printResults(stdout io.Writer, o options, rounds map[int][]round) error {
	rate := func(n int, get func(round) result) []float64 {
		var out []float64
		for _, rd := range rounds[n] {
			out = append(out, float64(n)/get(rd).elapsed.Seconds())
		}
		return out
	}
	export := func(r round) result { return r.export }
	psql := func(r round) result { return r.psql }
	var rssBig, rssSmall []float64
	for i := range min(len(rounds[o.rows]), len(rounds[o.small])) {
		rssBig = append(rssBig, float64(rounds[o.rows][i].export.maxRSS))
		rssSmall = append(rssSmall, float64(rounds[o.small][i].export.maxRSS))
	}
	for _, r := range []benchresult.Result{
		benchresult.Result{Area: "export", Name: fmt.Sprintf("audit export of %d rows, rows/s", o.rows), Unit: "rows/s",
			Ref: "psql \\copy (…) TO file CSV", Min: 1.2, Note: "into the EXPORTS bucket as the service stores it"}.FromRounds(rate(o.rows, export), rate(o.rows, psql)),
		benchresult.Result{Area: "export", Name: fmt.Sprintf("audit export of %d rows, rows/s", o.small), Unit: "rows/s",
			Ref: "psql \\copy (…) TO file CSV"}.FromRounds(rate(o.small, export), rate(o.small, psql)),
		benchresult.Result{Area: "export", Name: fmt.Sprintf("exporter peak RSS at %d rows", o.rows), Unit: "kB",
			Ref: fmt.Sprintf("exporter peak RSS at %d rows", o.small), Max: 1.2}.FromRounds(rssBig, rssSmall),
	} {
		if err := benchresult.Print(stdout, r); err != nil {
			return err
		}
	}
	return nil
}

// runner runs the benchmark's subprocesses.
type runner struct {
	o      options
	dir    string
	self   string
	nats   string
	bucket *objstore.Bucket
}

// round is one export of the same rows by psql and by the exporter, and
// the download of the exporter's object.
type round struct{ psql, export, download result }

// per is rd with each side's times as one export's share of k in a row
// (the download ran once).
func (rd round) per(k int) round {
	rd.psql, rd.export = rd.psql.per(k), rd.export.per(k)
	return rd
}

// ratio is psql's time over the exporter's: above 1 the exporter is faster.
func (r round) ratio() float64 { return r.psql.elapsed.Seconds() / r.export.elapsed.Seconds() }

// upTo is the -to bound of an export of the first n generated rows.
func upTo(n int) string { return firstRow().Add(time.Duration(n) * time.Second).Format(time.RFC3339) }

// round exports the first n rows both ways, psql first or second, each
// side reps times in a row (their total is the side's figure), then
// downloads the exporter's last object and deletes it (untimed).
func (r *runner) round(ctx context.Context, n, i, reps int, psqlFirst bool) (round, error) {
	var rd round
	name := func(rep int) string { return fmt.Sprintf("exporter-%d-%d-%d.csv", n, i, rep) }
	steps := []func() error{
		func() error {
			for range reps {
				ps, err := r.psql(ctx, n)
				if err != nil {
					return err
				}
				rd.psql = rd.psql.plus(ps)
			}
			return nil
		},
		func() error {
			for rep := range reps {
				// The last object goes, untimed, as psql's last file does.
				if rep > 0 {
					if err := r.bucket.Delete(ctx, name(rep-1)); err != nil {
						return err
					}
				}
				ex, err := r.export(ctx, n, name(rep), "")
				if err != nil {
					return err
				}
				rd.export = rd.export.plus(ex)
			}
			return nil
		},
	}
	if !psqlFirst {
		steps[0], steps[1] = steps[1], steps[0]
	}
	last := name(reps - 1)
	steps = append(steps, func() (err error) {
		rd.download, err = r.download(ctx, n, last, rd.export.bytes, "")
		return err
	})
	for _, step := range steps {
		if err := step(); err != nil {
			return round{}, err
		}
	}
	if err := r.bucket.Delete(ctx, last); err != nil {
		return round{}, err
	}
	return rd, nil
}

// warmUp exports n rows once each way and reads the export back, not
// timed: the first run of each side pays for the page cache, the
// server's plans and the bucket's first blocks, which no later round does.
func (r *runner) warmUp(ctx context.Context, n int) error {
	if _, err := r.psql(ctx, n); err != nil {
		return err
	}
	const name = "exporter-warm-up.csv"
	ex, err := r.export(ctx, n, name, "")
	if err != nil {
		return err
	}
	if _, err := r.download(ctx, n, name, ex.bytes, ""); err != nil {
		return err
	}
	return r.bucket.Delete(ctx, name)
}

// psql runs psql's \copy of the first n rows into a file, a fresh one
// (truncating the last round's would be counted as its work).
func (r *runner) psql(ctx context.Context, n int) (result, error) {
	query := `SELECT event_id, occurred_at, actor_id, actor_email, action, entity, entity_id, client_ip, changes::text ` +
		`FROM exporter.audit_log WHERE occurred_at < '` + upTo(n) + `' ORDER BY occurred_at, event_id`
	out := filepath.Join(r.dir, fmt.Sprintf("psql-%d.csv", n))
	if err := os.Remove(out); err != nil && !errors.Is(err, os.ErrNotExist) {
		return result{}, fmt.Errorf("remove %s: %w", out, err)
	}
	ps, err := measure(ctx, exec.Command("psql", r.o.db, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
		"-c", `\copy (`+query+`) TO '`+out+`' CSV HEADER`, "-c", backendCPUQuery))
	if err != nil {
		return result{}, fmt.Errorf("psql \\copy: %w", err)
	}
	ps.tool, ps.rows, ps.bytes = "psql", n, fileSize(out)
	ps.backendCPU = -1
	if ms, err := strconv.ParseInt(strings.TrimSpace(string(ps.stdout)), 10, 64); err == nil {
		ps.backendCPU = time.Duration(ms) * time.Millisecond
	}
	return ps, nil
}

// export runs the exporter's code path into the object name, with a CPU
// profile when prof is set.
func (r *runner) export(ctx context.Context, n int, name, prof string) (result, error) {
	args := []string{"-mode", "export", "-db", r.o.db, "-nats", r.nats, "-out", name, "-to", upTo(n)}
	if prof != "" {
		args = append(args, "-cpuprofile", prof)
	}
	ex, err := measure(ctx, exec.Command(r.self, args...))
	if err != nil {
		return result{}, fmt.Errorf("exporter: %w", err)
	}
	var got struct {
		Rows    int   `json:"rows"`
		Bytes   int64 `json:"bytes"`
		VmHWMkB int64 `json:"vmhwm_kb"`
		Backend int64 `json:"backend_cpu_ms"`
	}
	if err := json.Unmarshal(ex.stdout, &got); err != nil || got.Rows != n {
		return result{}, fmt.Errorf("exporter wrote %d rows (%v), want %d", got.Rows, err, n)
	}
	// The child's own high-water mark is exact; the sampled one may miss
	// a last peak.
	ex.tool, ex.rows, ex.bytes, ex.maxRSS = "exporter", got.Rows, got.Bytes, max(ex.maxRSS, got.VmHWMkB)
	ex.backendCPU = time.Duration(got.Backend) * time.Millisecond
	return ex, nil
}

// download reads the object name back as the download handler does and
// checks it has size bytes.
func (r *runner) download(ctx context.Context, n int, name string, size int64, prof string) (result, error) {
	args := []string{"-mode", "download", "-nats", r.nats, "-out", name}
	if prof != "" {
		args = append(args, "-cpuprofile", prof)
	}
	dl, err := measure(ctx, exec.Command(r.self, args...))
	if err != nil {
		return result{}, fmt.Errorf("download: %w", err)
	}
	var got struct {
		Bytes   int64 `json:"bytes"`
		VmHWMkB int64 `json:"vmhwm_kb"`
	}
	if err := json.Unmarshal(dl.stdout, &got); err != nil || got.Bytes != size {
		return result{}, fmt.Errorf("download read %d bytes (%v), want %d", got.Bytes, err, size)
	}
	dl.tool, dl.rows, dl.bytes, dl.maxRSS = "download", n, got.Bytes, max(dl.maxRSS, got.VmHWMkB)
	return dl, nil
}

// profile exports and downloads n rows once more with CPU profiles of
// the subprocess (export.pprof, download.pprof) and of this process,
// where the JetStream server runs (export-server.pprof,
// download-server.pprof).
func (r *runner) profile(ctx context.Context, n int) error {
	if err := os.MkdirAll(r.o.profile, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", r.o.profile, err)
	}
	name := fmt.Sprintf("exporter-%d-profiled.csv", n)
	var size int64
	steps := []struct {
		what string
		run  func(prof string) error
	}{
		{"export", func(prof string) error {
			ex, err := r.export(ctx, n, name, prof)
			size = ex.bytes
			return err
		}},
		{"download", func(prof string) error { _, err := r.download(ctx, n, name, size, prof); return err }},
	}
	for _, s := range steps {
		err := profiled(filepath.Join(r.o.profile, s.what+"-server.pprof"), func() error {
			return s.run(filepath.Join(r.o.profile, s.what+".pprof"))
		})
		if err != nil {
			return err
		}
	}
	return r.bucket.Delete(ctx, name)
}

// profiled runs fn with this process's CPU profile going to path.
func profiled(path string, fn func() error) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create profile: %w", err)
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		return fmt.Errorf("start profile: %w", err)
	}
	defer pprof.StopCPUProfile()
	return fn()
}

// summary is the medians of one size's rounds.
type summary struct {
	// psql, export and download hold median times and CPU and the
	// highest peak RSS.
	psql, export, download    result
	ratio, minRatio, maxRatio float64
}

func summarise(rounds []round) summary {
	pick := func(get func(round) result) result {
		var times, cpus, self, backend []time.Duration
		out := get(rounds[0])
		for _, rd := range rounds {
			r := get(rd)
			times, cpus, self, backend = append(times, r.elapsed), append(cpus, r.cpu), append(self, r.selfCPU), append(backend, r.backendCPU)
			out.maxRSS = max(out.maxRSS, r.maxRSS)
		}
		out.elapsed, out.cpu, out.selfCPU, out.backendCPU = benchresult.Median(times), benchresult.Median(cpus), benchresult.Median(self), benchresult.Median(backend)
		return out
	}
	var ratios []float64
	for _, rd := range rounds {
		ratios = append(ratios, rd.ratio())
	}
	return summary{
		psql:     pick(func(r round) result { return r.psql }),
		export:   pick(func(r round) result { return r.export }),
		download: pick(func(r round) result { return r.download }),
		ratio:    benchresult.Median(ratios), minRatio: slices.Min(ratios), maxRatio: slices.Max(ratios),
	}
}
