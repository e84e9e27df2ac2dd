package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

const defaultDuration = 8 * time.Second

type options struct {
	gateway  string
	redisURL string
	duration time.Duration
	conns    int
	clients  int
	sutCPU   string
	loadCPU  string
	rate     float64
	rounds   int
	warmup   time.Duration
}

// target is one configuration under load.
type target struct {
	key, name, url string
	ceiling        float64 // req/s, closed loop
	non2xx         int
	p50, p99       time.Duration // medians over the open-loop rounds
	p99s           []time.Duration
	errors         int           // open-loop errors, all rounds
	late           int           // open-loop requests sent over 1 ms after due, all rounds
	pids           []int         // processes whose CPU a request costs (SUT, Redis)
	requests       int           // served in the ceiling run
	cpuPerReq      time.Duration // CPU of pids per request, closed loop
}

// procs are the processes the benchmark started; stopped at the end.
type procs []*exec.Cmd

func (ps *procs) start(cpu, logPath string, env []string, name string, args ...string) error {
	argv := append([]string{"-c", cpu, name}, args...)
	cmd := exec.Command("taskset", argv...)
	if _, err := exec.LookPath("taskset"); err != nil {
		cmd = exec.Command(name, args...)
	}
	cmd.Env = append(os.Environ(), env...)
	f, err := os.Create(logPath)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	*ps = append(*ps, cmd)
	return nil
}

// last is the pid of the process started last.
func (ps procs) last() int { return ps[len(ps)-1].Process.Pid }

func (ps procs) stop() {
	for _, c := range ps {
		if c.Process != nil {
			_ = c.Process.Signal(os.Interrupt)
		}
	}
	for _, c := range ps {
		done := make(chan struct{})
		go func() { _ = c.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			_ = c.Process.Kill()
		}
	}
}

func benchmark(ctx context.Context, o options, out io.Writer) error {
	for _, tool := range []string{"wrk", "nginx", "redis-benchmark", "redis-server"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not found: install it (make bench-gateway does)", tool)
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "gatewaybench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	// upstream, gateway (no limits), gateway (Redis), nginx, redis, and
	// the two gateways' internal ports (probes and metrics).
	ports := make([]int, 7)
	for i := range ports {
		if ports[i], err = freePort(); err != nil {
			return err
		}
	}
	upstream := fmt.Sprintf("127.0.0.1:%d", ports[0])
	var pidUpstream, pidRedis, pidNoLimit, pidLimited, pidNginx int
	prefix := "bench:" + randomHex() + ":"

	var ps procs
	defer func() { ps.stop() }() // a closure: ps grows after this line
	if o.redisURL == "" {
		if err := ps.start(o.loadCPU, filepath.Join(dir, "redis.log"), nil, "redis-server", "--port", strconv.Itoa(ports[4]),
			"--bind", "127.0.0.1", "--save", "", "--appendonly", "no"); err != nil {
			return err
		}
		o.redisURL = fmt.Sprintf("redis://127.0.0.1:%d/0", ports[4])
		pidRedis = ps.last()
		if err := waitRedis(ctx, o.redisURL); err != nil {
			return err
		}
	}
	if err := ps.start(o.loadCPU, filepath.Join(dir, "upstream.log"), nil, self, "upstream", "-addr", upstream); err != nil {
		return err
	}
	pidUpstream = ps.last()
	common := []string{"BOOKING_URL=http://" + upstream, "LOG_LEVEL=warn", "SHUTDOWN_GRACE=1s"}
	if err := ps.start(o.sutCPU, filepath.Join(dir, "gateway-nolimit.log"),
		append(common, fmt.Sprintf("GATEWAY_ADDR=127.0.0.1:%d", ports[1]), fmt.Sprintf("GATEWAY_INTERNAL_ADDR=127.0.0.1:%d", ports[5]),
			"RATELIMIT_ENABLED=false"), o.gateway); err != nil {
		return err
	}
	pidNoLimit = ps.last()
	// Limits high enough that every benchmark request is allowed: the
	// limiter still runs its full decision (and Redis round trip) for each.
	if err := ps.start(o.sutCPU, filepath.Join(dir, "gateway-redis.log"),
		append(common, fmt.Sprintf("GATEWAY_ADDR=127.0.0.1:%d", ports[2]), fmt.Sprintf("GATEWAY_INTERNAL_ADDR=127.0.0.1:%d", ports[6]),
			"REDIS_URL="+o.redisURL,
			"REDIS_KEY_PREFIX="+prefix, "RATELIMIT_PUBLIC=1000000000/minute"), o.gateway); err != nil {
		return err
	}
	pidLimited = ps.last()
	if err := writeNginxConf(dir, ports[3], upstream); err != nil {
		return err
	}
	if err := ps.start(o.sutCPU, filepath.Join(dir, "nginx.log"), nil, "nginx", "-p", dir, "-c", filepath.Join(dir, "nginx.conf")); err != nil {
		return err
	}
	pidNginx = ps.last()
	targets := []*target{
		{key: "a", name: "upstream direct", url: "http://" + upstream + "/api/events", pids: []int{pidUpstream}},
		{key: "b", name: "gateway, no limits", url: fmt.Sprintf("http://127.0.0.1:%d/api/events", ports[1]), pids: []int{pidNoLimit}},
		{key: "c", name: "gateway, Redis limits", url: fmt.Sprintf("http://127.0.0.1:%d/api/events", ports[2]), pids: []int{pidLimited, pidRedis}},
		{key: "d", name: "nginx proxy_pass + limit_req", url: fmt.Sprintf("http://127.0.0.1:%d/api/events", ports[3]), pids: []int{pidNginx}},
	}
	for _, t := range targets {
		if err := waitUp(ctx, t.url); err != nil {
			return fmt.Errorf("%s: %w (logs in %s)", t.name, err, dir)
		}
	}

	fmt.Fprintf(out, "gateway benchmark: %s each, wrk -c%d closed loop, SUT on CPU %s, load+upstream on CPU %s\n",
		o.duration, o.conns, o.sutCPU, o.loadCPU)
	for _, t := range targets {
		if err := ceiling(ctx, o, t); err != nil {
			return err
		}
		fmt.Fprintf(out, "  ceiling %-30s %10.0f req/s  %7.1fµs CPU/req  (non-2xx %d)\n", t.name, t.ceiling,
			float64(t.cpuPerReq)/float64(time.Microsecond), t.non2xx)
	}
	rate := targets[2].ceiling / 2
	if o.rate > 0 {
		rate = o.rate
	}
	if err := latencies(ctx, o, targets, rate, out); err != nil {
		return err
	}
	batch := batchMean(fmt.Sprintf("http://127.0.0.1:%d", ports[6]))

	decisions, err := limiterDecisions(ctx, o.redisURL, prefix+"lim:", o.clients, o.duration)
	if err != nil {
		return err
	}
	incr, err := redisBenchmarkIncr(ctx, o.redisURL, o.clients, int(max(decisions*o.duration.Seconds(), 100000)))
	if err != nil {
		return err
	}
	cleanup(o.redisURL, prefix)

	a, b, c, d := targets[0], targets[1], targets[2], targets[3]
	fmt.Fprintln(out)
	fmt.Fprintf(out, "machine: %s\n", machine())
	fmt.Fprintln(out, "| config | req/s (closed loop) | CPU µs/req (SUT [+ Redis]) | p50 | p99 | open-loop errors |")
	fmt.Fprintln(out, "|---|---|---|---|---|---|")
	for _, t := range targets {
		fmt.Fprintf(out, "| (%s) %s | %.0f | %.1f | %s | %s | %d |\n", t.key, t.name, t.ceiling,
			float64(t.cpuPerReq)/float64(time.Microsecond), fmtDur(t.p50), fmtDur(t.p99), t.errors)
	}
	fmt.Fprintln(out)
	fmt.Fprintf(out, "c/d req/s = %.2f  (target >= 0.90); by CPU cost per request d/c = %.2f\n", c.ceiling/d.ceiling, float64(d.cpuPerReq)/float64(c.cpuPerReq))
	fmt.Fprintf(out, "c/b req/s = %.2f; by CPU cost per request b/c = %.2f\n", c.ceiling/b.ceiling, float64(b.cpuPerReq)/float64(c.cpuPerReq))
	fmt.Fprintf(out, "added p99 at %.0f req/s: gateway+Redis %s, gateway %s, nginx %s over upstream direct (target <= 1ms)\n",
		rate, fmtDur(c.p99-a.p99), fmtDur(b.p99-a.p99), fmtDur(d.p99-a.p99))
	if late := a.late + b.late + c.late + d.late; late > 0 {
		fmt.Fprintf(out, "the load generator sent %d requests over 1 ms late (counted from their due time all the same)\n", late)
	}
	fmt.Fprintf(out, "limiter decisions/s = %.0f vs redis-benchmark -t incr -c %d = %.0f: ratio %.2f  (target >= 1.0)\n",
		decisions, o.clients, incr, decisions/incr)
	if batch > 0 {
		fmt.Fprintf(out, "mean decisions per Redis round trip in (c): %.1f\n", batch)
	}
	return nil
}

func writeNginxConf(dir string, port int, upstream string) error {
	for _, d := range []string{"logs", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o777); err != nil {
			return err
		}
	}
	conf := fmt.Sprintf(`daemon off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path %[1]s/tmp; proxy_temp_path %[1]s/tmp; fastcgi_temp_path %[1]s/tmp;
  uwsgi_temp_path %[1]s/tmp; scgi_temp_path %[1]s/tmp;
  limit_req_zone $binary_remote_addr zone=public:10m rate=100000000r/s;
  upstream booking { server %[3]s; keepalive 256; }
  server {
    listen 127.0.0.1:%[2]d reuseport;
    location /api/ {
      limit_req zone=public burst=1000000 nodelay;
      limit_req_status 429;
      proxy_pass http://booking;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`, dir, port, upstream)
	return os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644)
}

func waitUp(ctx context.Context, url string) error {
	for range 200 {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return errors.New("did not answer 200 in time")
}

var (
	wrkRate   = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkNon2xx = regexp.MustCompile(`Non-2xx or 3xx responses:\s+(\d+)`)
	wrkTotal  = regexp.MustCompile(`(\d+) requests in`)
)

// ceiling runs wrk closed loop on the load CPU after a short warm-up.
func ceiling(ctx context.Context, o options, t *target) error {
	wrk := func(d time.Duration) (string, error) {
		cmd := exec.CommandContext(ctx, "taskset", "-c", o.loadCPU, "wrk", "-t1", "-c"+strconv.Itoa(o.conns),
			"-d"+strconv.Itoa(int(d.Seconds()))+"s", t.url)
		b, err := cmd.CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("wrk %s: %w: %s", t.url, err, b)
		}
		return string(b), nil
	}
	if _, err := wrk(time.Second); err != nil {
		return err
	}
	var before time.Duration
	for _, pid := range t.pids {
		before += cpuTime(pid)
	}
	res, err := wrk(o.duration)
	if err != nil {
		return err
	}
	var after time.Duration
	for _, pid := range t.pids {
		after += cpuTime(pid)
	}
	if m := wrkTotal.FindStringSubmatch(res); m != nil {
		t.requests, _ = strconv.Atoi(m[1])
	}
	if t.requests > 0 {
		t.cpuPerReq = (after - before) / time.Duration(t.requests)
	}
	m := wrkRate.FindStringSubmatch(res)
	if m == nil {
		return fmt.Errorf("wrk output without Requests/sec: %s", res)
	}
	t.ceiling, _ = strconv.ParseFloat(m[1], 64)
	if m := wrkNon2xx.FindStringSubmatch(res); m != nil {
		t.non2xx, _ = strconv.Atoi(m[1])
	}
	return nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func randomHex() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func fmtDur(d time.Duration) string {
	return fmt.Sprintf("%.3fms", float64(d)/float64(time.Millisecond))
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
	redis := ""
	if b, err := exec.Command("redis-server", "--version").CombinedOutput(); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			redis = strings.TrimPrefix(f[2], "v=")
		}
	}
	return fmt.Sprintf("%d vCPU %s, Linux %s, %s, %s, Redis %s", cpus, model, kernel, runtime.Version(), nginx, redis)
}

// latencies measures every target open loop at rate, in o.rounds rounds
// that visit the targets in turn, so a slow spell of a shared machine hits
// each of them rather than one; a target's p50 and p99 are the medians of
// its rounds.
func latencies(ctx context.Context, o options, targets []*target, rate float64, out io.Writer) error {
	fmt.Fprintf(out, "open loop at %.0f req/s over %d connections, %s each after %s warm-up, %d rounds (half the limited gateway's ceiling unless -rate):\n",
		rate, o.conns, o.duration, o.warmup, o.rounds)
	p50s := make(map[*target][]time.Duration)
	for round := range o.rounds {
		for _, t := range targets {
			res, err := openLoop(ctx, t.url, rate, o.conns, o.warmup, o.duration)
			if err != nil {
				return err
			}
			p50, p99 := percentile(res.lat, 0.50), percentile(res.lat, 0.99)
			p50s[t] = append(p50s[t], p50)
			t.p99s = append(t.p99s, p99)
			t.errors += res.errors
			t.late += res.late
			fmt.Fprintf(out, "  round %d %-30s p50 %8s  p90 %8s  p99 %8s  max %8s  (%d requests, errors %d)\n", round+1, t.name,
				fmtDur(p50), fmtDur(percentile(res.lat, 0.90)), fmtDur(p99), fmtDur(percentile(res.lat, 1)), len(res.lat), res.errors)
		}
	}
	for _, t := range targets {
		t.p50, t.p99 = median(p50s[t]), median(t.p99s)
		fmt.Fprintf(out, "  latency %-30s p50 %8s  p99 %8s  (medians of %d rounds; errors %d)\n", t.name, fmtDur(t.p50), fmtDur(t.p99), o.rounds, t.errors)
	}
	return nil
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
