package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/acube/platform/libs/benchresult"
)

// byKey finds a configuration by key, or nil.
func byKey(s *setup, key string) *config {
	for _, c := range s.configs {
		if c.key == key {
			return c
		}
	}
	return nil
}

// report prints the medians per configuration and every figure as a
// result line.
func report(o options, s *setup, rate float64, lim limiterRounds, fl floodResult, out io.Writer) error {
	fmt.Fprintf(out, "\nmedians of %d rounds:\n", o.rounds)
	fmt.Fprintln(out, "| config | req/s (closed loop) | CPU µs/req (SUT [+ Redis]) | open-loop p50 | p99 | generator send lag p99 | errors |")
	fmt.Fprintln(out, "|---|---:|---:|---:|---:|---:|---:|")
	for _, c := range s.configs {
		p50, p99, lag := "—", "—", "—"
		if c.openLoop {
			p50, p99, lag = ms(benchresult.Median(c.p50s)), ms(benchresult.Median(c.p99s)), ms(benchresult.Median(c.lagP99s))
		}
		fmt.Fprintf(out, "| %s | %.0f | %.1f | %s | %s | %s | %d |\n", c.label(), benchresult.Median(c.ceilings), benchresult.Median(c.cpu), p50, p99, lag, c.errors)
		if c.firstErr != nil {
			fmt.Fprintf(out, "  %s: first open-loop error: %v\n", c.label(), c.firstErr)
		}
	}
	a, b, c, d := byKey(s, "a"), byKey(s, "b"), byKey(s, "c"), byKey(s, "d")
	var late, non2xx int
	for _, cf := range s.configs {
		late, non2xx = late+cf.late, non2xx+cf.non2xx
	}
	if late > 0 {
		fmt.Fprintf(out, "the open-loop generator sent %d requests over 1 ms after their due time, over all rounds (their latency runs from the due time all the same)\n", late)
	}
	if non2xx > 0 {
		fmt.Fprintf(out, "wrk saw %d non-2xx answers over all rounds (a limit reached, or errors: see the logs)\n", non2xx)
	}

	var results []benchresult.Result
	add := func(r benchresult.Result) { results = append(results, r) }
	note := fmt.Sprintf("wrk -t1 -c%d, %s per round; SUT on CPU %s", o.conns, o.duration, o.sutCPU)
	add(benchresult.Result{Area: "gateway", Name: "gateway with Redis limits, req/s (closed loop)", Unit: "req/s",
		Ref: "nginx proxy_pass + limit_req, same upstream", Min: 0.9, Note: note}.FromRounds(c.ceilings, d.ceilings))
	add(benchresult.Result{Area: "gateway", Name: "gateway with Redis limits, CPU µs/request (gateway + Redis)", Unit: "µs",
		Ref: "nginx proxy_pass + limit_req, CPU µs/request", Max: 1.2, Note: "CPU of the processes each request passes, from /proc"}.FromRounds(c.cpu, d.cpu))
	add(benchresult.Result{Area: "gateway", Name: "gateway without limits, req/s (closed loop)", Unit: "req/s",
		Ref: "nginx proxy_pass + limit_req, same upstream", Note: note}.FromRounds(b.ceilings, d.ceilings))
	if e := byKey(s, "e"); e != nil {
		add(benchresult.Result{Area: "gateway", Name: "gateway with Redis limits vs nginx setting the gateway's fields, req/s", Unit: "req/s",
			Ref: "nginx + limit_req + the gateway's fields", Note: note}.FromRounds(c.ceilings, e.ceilings))
		add(benchresult.Result{Area: "gateway", Name: "gateway with Redis limits vs nginx setting the gateway's fields, CPU µs/request", Unit: "µs",
			Ref: "nginx + limit_req + the gateway's fields, CPU µs/request", Note: "CPU of the processes each request passes, from /proc"}.FromRounds(c.cpu, e.cpu))
	}
	if cn := byKey(s, "c′"); cn != nil {
		add(benchresult.Result{Area: "gateway", Name: "gateway with Redis limits, fasthttp data path vs net/http, req/s", Unit: "req/s",
			Ref: "the same gateway with GATEWAY_DATA_PATH=nethttp", Note: note}.FromRounds(c.ceilings, cn.ceilings))
	}

	added := addedP99s(c, a)
	add(benchresult.Result{Area: "gateway", Name: "added p99 of the gateway with Redis limits at half its ceiling (open loop)",
		Value: benchresult.Median(added), Unit: "ms", Max: 1,
		Note: fmt.Sprintf("%.0f req/s; p99 %s through the gateway vs %s upstream direct (medians); per round %s ms; nginx + limit_req adds %s ms the same way; generator send lag p99 %s and %s, %d requests over 1 ms late", rate,
			ms(benchresult.Median(c.p99s)), ms(benchresult.Median(a.p99s)), spread(added), addedP99(d, a), ms(benchresult.Median(c.lagP99s)), ms(benchresult.Median(a.lagP99s)), c.late+a.late)})

	incrRef := fmt.Sprintf("redis-benchmark -t incr -c %d", o.clients)
	add(benchresult.Result{Area: "gateway", Name: "limiter decisions/s, generous tier (leases allowed)", Unit: "decisions/s",
		Ref: incrRef, Min: 1.5, Note: fmt.Sprintf("admin tier raised out of reach, %d goroutines, one key each", o.clients)}.FromRounds(lim.generous, lim.incr))
	add(benchresult.Result{Area: "gateway", Name: "limiter decisions/s, strict tier (exact, in Redis)", Unit: "decisions/s",
		Ref: incrRef, Note: fmt.Sprintf("auth tier as seeded, %d goroutines, a new key per decision", o.clients)}.FromRounds(lim.strict, lim.incr))

	if o.flood > 0 {
		fmt.Fprintf(out, "flood: %d requests from one client in %s: %d allowed, %d refused 429, %d other, %d errors; Redis commands: %s\n",
			fl.requests, fl.took.Round(time.Millisecond), fl.allowed, fl.limited, fl.other, fl.errors, fl.commandsText())
		add(benchresult.Result{Area: "gateway", Name: fmt.Sprintf("Redis commands for a flood of %d requests from one over-limit client", fl.requests),
			Value: float64(fl.commands), Unit: "commands", Max: 999,
			Note: fmt.Sprintf("public tier as seeded (10/minute); %d allowed, %d refused; INFO commandstats: %s", fl.allowed, fl.limited, fl.commandsText())})
	}
	fmt.Fprintln(out)
	for _, r := range results {
		if r.RefValue != 0 {
			fmt.Fprintf(out, "%s: %.2f× %s (median of %d rounds, spread %.2f–%.2f×)", r.Name, r.Ratio(), r.Ref, r.Rounds, r.RatioMin, r.RatioMax)
		} else {
			fmt.Fprintf(out, "%s: %.3g %s", r.Name, r.Value, r.Unit)
		}
		if t := r.Target(); t != "" {
			fmt.Fprintf(out, "  (target %s: %s)", t, r.Verdict())
		}
		fmt.Fprintln(out)
	}
	for _, r := range results {
		if err := benchresult.Print(out, r); err != nil {
			return err
		}
	}
	return nil
}

// spread is "min–max" of vs with two decimals.
func spread(vs []float64) string {
	if len(vs) == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f–%.2f", slices.Min(vs), slices.Max(vs))
}

// machine describes where the run happened.
func machine() string {
	model, cpus := "unknown CPU", 0
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			k, v, ok := strings.Cut(line, ":")
			switch k = strings.TrimSpace(k); {
			case ok && k == "model name" && model == "unknown CPU":
				model = strings.TrimSpace(v)
			case ok && k == "processor":
				cpus++
			}
		}
	}
	kernel := ""
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = strings.TrimSpace(string(b))
	}
	nginx := ""
	if b, err := exec.Command("nginx", "-v").CombinedOutput(); err == nil {
		nginx = strings.TrimSpace(strings.TrimPrefix(string(b), "nginx version: "))
	}
	redisVersion := ""
	if b, err := exec.Command("redis-server", "--version").CombinedOutput(); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			redisVersion = strings.TrimPrefix(f[2], "v=")
		}
	}
	return fmt.Sprintf("%d vCPU %s, Linux %s, %s, %s, Redis %s", cpus, model, kernel, runtime.Version(), nginx, redisVersion)
}

// addedP99s is, round by round, how many milliseconds c's open-loop p99
// exceeds the upstream direct's (a).
func addedP99s(c, a *config) []float64 {
	added := make([]float64, 0, len(c.p99s))
	for i := range min(len(c.p99s), len(a.p99s)) {
		added = append(added, float64(c.p99s[i]-a.p99s[i])/float64(time.Millisecond))
	}
	return added
}

// addedP99 is the median of addedP99s, formatted for a note.
func addedP99(c, a *config) string {
	return fmt.Sprintf("%.2f", benchresult.Median(addedP99s(c, a)))
}
