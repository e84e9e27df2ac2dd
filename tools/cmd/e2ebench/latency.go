package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/acube/platform/libs/benchresult"
	"github.com/acube/platform/libs/stream"
	"github.com/acube/platform/tools/internal/bench"
	"github.com/acube/platform/tools/internal/stack"
)

// system is booking and mailer (and the gateway, with -gateway) running
// against a scratch database, an in-process JetStream and the sink.
type system struct {
	url     string // where bookings are sent
	sink    *sink
	client  *http.Client
	cleanup []func()
	runs    int // bookings offered so far, for unique emails
}

func (s *system) close() {
	for i := len(s.cleanup) - 1; i >= 0; i-- {
		s.cleanup[i]()
	}
}

func startSystem(ctx context.Context, o options, logs io.Writer) (_ *system, err error) {
	sys := &system{client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: time.Minute}}}
	defer func() {
		if err != nil {
			sys.close()
		}
	}()
	wd, err := os.Getwd()
	if err != nil {
		return nil, fmt.Errorf("working directory: %w", err)
	}
	root, err := stack.Root(wd)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "e2ebench-")
	if err != nil {
		return nil, fmt.Errorf("temporary directory: %w", err)
	}
	sys.cleanup = append(sys.cleanup, func() { _ = os.RemoveAll(tmp) })
	names := []string{"booking", "mailer"}
	if o.viaGateway {
		names = append(names, "gateway")
	}
	ns, err := startNATS(filepath.Join(tmp, "nats"))
	if err != nil {
		return nil, err
	}
	sys.cleanup = append(sys.cleanup, func() { ns.Shutdown(); ns.WaitForShutdown() })
	// The mailer also reads the admin and exporter streams and is ready
	// only once they exist; their owners do not run here, so declare them.
	if err := declareStreams(ctx, ns.ClientURL()); err != nil {
		return nil, err
	}
	if sys.sink, err = startSink(); err != nil {
		return nil, err
	}
	sys.cleanup = append(sys.cleanup, sys.sink.close)
	addrs := map[string]string{}
	for _, n := range stack.Services() {
		port, err := stack.FreePort()
		if err != nil {
			return nil, err
		}
		addrs[n] = stack.Addr(port)
	}
	// The gateway's probes are on an internal port of their own.
	port, err := stack.FreePort()
	if err != nil {
		return nil, err
	}
	probes := stack.Addr(port)
	if !o.verbose {
		logs = io.Discard
	}
	// The one launcher (stack.StartSystem): a scratch database laid out as
	// production's, each service migrated as its schema's owner, then
	// served as its app role; NATS and the timestamping sink are ours.
	platform, err := stack.StartSystem(ctx, stack.SystemConfig{
		Root: root, Services: names, Bin: filepath.Join(tmp, "bin"), Build: true, DataDir: filepath.Join(tmp, "data"),
		DatabaseURL: o.dbURL, FreshDatabase: true, Name: "e2ebench", NATSURL: ns.ClientURL(), ExternalSMTP: true,
		Listen: func(name string) (string, string) {
			if name == "gateway" {
				return addrs[name], probes
			}
			return addrs[name], addrs[name]
		},
		Env: []string{"SMTP_HOST=127.0.0.1", "SMTP_PORT=" + strconv.Itoa(sys.sink.port()),
			"RATELIMIT_PUBLIC=1000000/minute,100000000/hour", "LOG_LEVEL=warn"},
		Output: logs,
	})
	if err != nil {
		return nil, err
	}
	sys.cleanup = append(sys.cleanup, func() {
		if err := platform.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "e2ebench:", err)
		}
	})
	sys.url = "http://" + addrs["booking"]
	if o.viaGateway {
		sys.url = "http://" + addrs["gateway"]
	}
	return sys, nil
}

// booked is one offered booking and what became of it.
type booked struct {
	due, accepted time.Time
	id, email     string
	status        int
	err           error
}

// point is the outcome of one run at one rate.
type point struct {
	rate                   float64
	offered, accepted, got int
	fromDue, fromAccepted  bench.Summary
	late                   int // bookings sent over 1 ms after due (timed from due all the same)
	errors                 []string
	// perSecond holds the latencies from the due time, by second of the run.
	perSecond [][]time.Duration
}

// offer books at rate for d, open loop, then waits up to drain for the
// emails and matches each to its booking.
func (s *system) offer(ctx context.Context, rate float64, d, drain time.Duration) point {
	date := time.Now().UTC().AddDate(0, 1, 0).Format(time.DateOnly)
	n := int(rate * d.Seconds())
	results := make([]booked, n)
	base := s.runs
	s.runs += n
	s.sink.take() // nothing from before belongs to this run
	// Senders enough that a booking waits for its due time, not for an
	// earlier answer, at every rate of the series; each latency runs from
	// the due time all the same (bench.Load: no coordinated omission).
	load := bench.Load{Rate: rate, Duration: d, Senders: max(64, int(rate/10))}
	sent, _ := load.Run(ctx, func(ctx context.Context, q bench.Request) {
		r := &results[q.Index]
		r.due = q.Due
		r.email = fmt.Sprintf("e2e-%d@bench.test", base+q.Index)
		body := `{"email":"` + r.email + `","name":"Bench","phone":"1234567890","session_type":"individual","preferred_date":"` +
			date + `","message":"Bench"}`
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url+"/api/sessions/book", strings.NewReader(body))
		if err != nil {
			r.err = err
			return
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := s.client.Do(req)
		if err != nil {
			r.err = err
			return
		}
		defer resp.Body.Close()
		var answer struct {
			ID string `json:"id"`
		}
		r.status = resp.StatusCode
		if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
			r.err = fmt.Errorf("decode answer: %w", err)
			return
		}
		r.accepted, r.id = time.Now(), answer.ID
	})
	results = slices.DeleteFunc(results, func(r booked) bool { return r.due.IsZero() }) // not sent: ctx ended

	p := point{rate: rate, offered: sent.Offered, late: sent.Late}
	for _, r := range results {
		if r.status == http.StatusCreated && r.id != "" {
			p.accepted++
		}
	}
	deadline := time.NewTimer(drain)
	defer deadline.Stop()
wait:
	for {
		got, changed := s.sink.count()
		if got >= p.accepted {
			break
		}
		select {
		case <-changed:
		case <-deadline.C:
			break wait
		case <-ctx.Done():
			break wait
		}
	}
	arrivals := s.sink.take()
	byID, byRcpt := map[string]time.Time{}, map[string]time.Time{}
	for _, a := range arrivals {
		for _, id := range a.ids {
			if _, seen := byID[id]; !seen {
				byID[id] = a.at
			}
		}
		for _, to := range a.to {
			if _, seen := byRcpt[to]; !seen {
				byRcpt[to] = a.at
			}
		}
	}
	var fromDue, fromAccepted []time.Duration
	errs := map[string]int{}
	for _, r := range results {
		switch {
		case r.err != nil:
			errs[r.err.Error()]++
			fromDue = append(fromDue, time.Since(r.due)) // a refused booking is a lost email
			continue
		case r.status != http.StatusCreated:
			errs["status "+strconv.Itoa(r.status)]++
			fromDue = append(fromDue, time.Since(r.due))
			continue
		}
		at, ok := byID[r.id]
		if !ok {
			at, ok = byRcpt[r.email]
		}
		if !ok {
			// Never arrived: it counts, at least as late as now, so
			// losses raise the percentiles instead of vanishing.
			now := time.Now()
			fromDue, fromAccepted = append(fromDue, now.Sub(r.due)), append(fromAccepted, now.Sub(r.accepted))
			continue
		}
		p.got++
		if sec := int(r.due.Sub(results[0].due) / time.Second); sec >= 0 {
			for len(p.perSecond) <= sec {
				p.perSecond = append(p.perSecond, nil)
			}
			p.perSecond[sec] = append(p.perSecond[sec], at.Sub(r.due))
		}
		fromDue = append(fromDue, at.Sub(r.due))
		fromAccepted = append(fromAccepted, at.Sub(r.accepted))
	}
	p.fromDue, p.fromAccepted = bench.Summarize(fromDue), bench.Summarize(fromAccepted)
	for e, c := range errs {
		p.errors = append(p.errors, fmt.Sprintf("%d× %s", c, e))
	}
	slices.Sort(p.errors)
	return p
}

func latency(ctx context.Context, o options, stdout io.Writer) error {
	via := "straight at booking"
	if o.viaGateway {
		via = "through the gateway (public tier raised to 1000000/minute, limits in Redis)"
	}
	fmt.Fprintf(stdout, "e2e latency: booking accepted → email accepted by SMTP; booking and mailer binaries, %s; %d CPUs\n", via, runtime.NumCPU())
	sys, err := startSystem(ctx, o, os.Stderr)
	if err != nil {
		return err
	}
	defer sys.close()

	warm := sys.offer(ctx, 20, 2*time.Second, o.drain) // consumer created, pools and caches warm
	if warm.got == 0 {
		return fmt.Errorf("warm-up: no email arrived for %d accepted bookings (%s)", warm.accepted, strings.Join(warm.errors, "; "))
	}
	report := func(kind string, p point) error {
		fmt.Fprintf(stdout, "  %-6s %5.0f/s  offered %5d  accepted %5d  emails %5d  from scheduled send: p50 %7.1f ms  p90 %7.1f ms  p99 %7.1f ms  max %7.1f ms  |  from 201: p50 %6.1f  p99 %6.1f ms\n",
			kind, p.rate, p.offered, p.accepted, p.got, bench.Ms(p.fromDue.P50), bench.Ms(p.fromDue.P90), bench.Ms(p.fromDue.P99), bench.Ms(p.fromDue.Max),
			bench.Ms(p.fromAccepted.P50), bench.Ms(p.fromAccepted.P99))
		for _, e := range p.errors {
			fmt.Fprintf(stdout, "         errors: %s\n", e)
		}
		if p.late > 0 {
			fmt.Fprintf(stdout, "         %d bookings sent over 1 ms after due (timed from due all the same)\n", p.late)
		}
		if o.timeline {
			for sec, l := range p.perSecond {
				s := bench.Summarize(l)
				fmt.Fprintf(stdout, "         second %3d: %4d emails  p50 %7.1f ms  max %7.1f ms\n", sec, s.N, bench.Ms(s.P50), bench.Ms(s.Max))
			}
		}
		return benchresult.Print(stdout, benchresult.Result{Area: "e2e", Series: "booking → email (" + kind + ")", Name: "booking accepted → email accepted by SMTP",
			Rate: p.rate, Unit: "ms", P50: bench.Ms(p.fromDue.P50), P90: bench.Ms(p.fromDue.P90), P99: bench.Ms(p.fromDue.P99), PMax: bench.Ms(p.fromDue.Max),
			Lost: p.offered - p.got})
	}
	measure := func(kind string, rate float64, d time.Duration) (point, error) {
		if o.warmup > 0 {
			w := sys.offer(ctx, rate, o.warmup, o.drain)
			fmt.Fprintf(stdout, "  (warm-up %.0f/s for %s after the step, not counted: p50 %.1f ms, p99 %.1f ms, max %.1f ms)\n",
				rate, o.warmup, bench.Ms(w.fromDue.P50), bench.Ms(w.fromDue.P99), bench.Ms(w.fromDue.Max))
		}
		p := sys.offer(ctx, rate, d, o.drain)
		if err := report(kind, p); err != nil {
			return p, err
		}
		return p, ctx.Err()
	}
	for _, rate := range o.rates {
		if _, err := measure("series", rate, o.step); err != nil {
			return err
		}
	}
	p, err := measure("steady", o.steadyRate, o.steady)
	if err != nil {
		return err
	}
	note := fmt.Sprintf("%.0f/s for %s after %s of warm-up, %s; p50 %.1f ms, max %.1f ms; %d of %d emails", p.rate, o.steady, o.warmup, via,
		bench.Ms(p.fromDue.P50), bench.Ms(p.fromDue.Max), p.got, p.offered)
	fmt.Fprintf(stdout, "  booking → email p99 at %.0f/s: %.1f ms (target <= %s)\n", p.rate, bench.Ms(p.fromDue.P99), o.targetP99)
	return benchresult.Print(stdout, benchresult.Result{Area: "e2e", Name: fmt.Sprintf("booking accepted → email accepted by SMTP, p99 at %.0f/s", p.rate),
		Value: bench.Ms(p.fromDue.P99), Unit: "ms", Max: bench.Ms(o.targetP99), Note: note, Lost: p.offered - p.got})
}

// declareStreams declares every stream of the catalog, as their owners
// would at start.
func declareStreams(ctx context.Context, url string) error {
	nc, js, err := stream.Connect(url, "e2ebench", slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		return err
	}
	defer nc.Close()
	if err := stream.EnsureAll(ctx, js, stream.Catalog(1)...); err != nil {
		return err
	}
	return nil
}
