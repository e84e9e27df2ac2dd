package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/acube/platform/libs/freeport"
)

// options are the flags of `gatewaybench run`.
type options struct {
	gateway, limiterbench  string
	duration, warmup       time.Duration
	rounds, conns, clients int
	sutCPU, loadCPU        string
	rate                   float64
	flood                  int
	nethttp, nginxFields   bool
}

// config is one configuration under load and its figures, round by round.
type config struct {
	key, name string
	url       string
	pids      []int // processes whose CPU a request costs (SUT, Redis)
	openLoop  bool  // measured open loop too

	ceilings []float64       // req/s, closed loop
	cpu      []float64       // µs of CPU per request, closed loop
	p50s     []time.Duration // open loop
	p99s     []time.Duration
	lagP99s  []time.Duration // p99 of the generator's send lag, per round
	errors   int             // open-loop errors, all rounds
	firstErr error           // the first of them
	late     int             // open-loop requests sent over 1 ms after due, all rounds
	non2xx   int             // closed-loop non-2xx answers, all rounds
}

// setup is everything the benchmark started.
type setup struct {
	dir          string
	configs      []*config
	redisAddr    string // the private redis-server
	redisPID     int
	upstreamPID  int    // the proxies' upstream
	floodURL     string // a gateway with the seed's limits
	floodMetrics string // its internal port, for /metrics
	prefix       string
}

func benchmark(ctx context.Context, o options, out io.Writer) error {
	for _, tool := range []string{"wrk", "nginx", "redis-benchmark", "redis-server", o.gateway, o.limiterbench} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not found: %w (make bench-gateway builds and installs what it needs)", tool, err)
		}
	}
	dir, err := os.MkdirTemp("", "gatewaybench-")
	if err != nil {
		return fmt.Errorf("temporary directory: %w", err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil { // nginx's workers run as another user
		return fmt.Errorf("temporary directory: %w", err)
	}
	var ps procs
	defer func() { ps.stop() }() // a closure: ps grows after this line
	s, err := start(ctx, o, dir, &ps)
	if err != nil {
		return err
	}

	fmt.Fprintf(out, "gateway benchmark: %d rounds, %s per measurement after %s warm-up, wrk -t1 -c%d closed loop; SUT and (a)'s upstream on CPU %s; load, the proxies' upstream and Redis on CPU %s (open loop: the generator alone on CPU %[6]s, the rest on CPU %[5]s)\n",
		o.rounds, o.duration, o.warmup, o.conns, o.sutCPU, o.loadCPU)
	fmt.Fprintf(out, "machine: %s\n", machine())
	rate := o.rate
	var lim limiterRounds
	// A discarded warm-up pass first, every configuration in turn: so the
	// first round does not measure whichever configuration it starts with
	// colder (page cache, TCP buffers, the Go runtime's heap) than the rest.
	if o.warmup > 0 {
		for _, c := range s.configs {
			if _, err := wrk(ctx, o, c.url, o.warmup); err != nil {
				return err
			}
		}
	}
	ring := comparedNeighbours(s.configs)
	for round := range o.rounds {
		order := roundOrder(ring, round)
		for _, c := range order {
			if err := ceiling(ctx, o, c); err != nil {
				return err
			}
			fmt.Fprintf(out, "  round %d ceiling %-40s %9.0f req/s  %6.1f µs CPU/req\n", round+1, c.label(), c.ceilings[round], c.cpu[round])
		}
		if rate == 0 {
			placed, err := openLoopCeiling(ctx, o, s, byKey(s, "c"))
			if err != nil {
				return err
			}
			rate = placed / 2
			fmt.Fprintf(out, "  open loop at %.0f req/s: half the limited gateway's ceiling with the upstream and Redis beside it on CPU %s, as in the open loop (%.0f req/s; %.0f with them on CPU %s)\n",
				rate, o.sutCPU, placed, byKey(s, "c").ceilings[0], o.loadCPU)
		}
		if err := openLoopRound(ctx, o, s, order, round, rate, out); err != nil {
			return err
		}
		if err := lim.round(ctx, o, s, round, out); err != nil {
			return err
		}
	}
	var fl floodResult
	if o.flood > 0 {
		if fl, err = flood(ctx, o, s); err != nil {
			return err
		}
	}
	return report(o, s, rate, lim, fl, out)
}

// openLoopRound offers every open-loop configuration rate req/s in order.
// For its duration the proxies' upstream and Redis move to the SUT's CPU,
// where (a)'s upstream already is: the generator then has the load CPU to
// itself for every configuration alike, and the added p99 compares the
// system with and without the proxy, not the generator's wait for a CPU
// it shares with the upstream in one configuration and not in the other
// (measured with the upstream on the load CPU: nginx's p99 3.7–8 ms and
// the gateway's 3.5–4.4 ms against 0.7–1 ms direct, the generator's send
// lag p99 1.5–2.6 ms against 0.2 ms). The closed-loop ceilings keep the
// upstream and Redis on the load CPU, so that the SUT's CPU measures the
// proxy alone.
func openLoopRound(ctx context.Context, o options, s *setup, order []*config, round int, rate float64, out io.Writer) error {
	return besideSUT(ctx, o, s, func() error {
		for _, c := range order {
			if !c.openLoop {
				continue
			}
			if err := latency(ctx, o, c, rate); err != nil {
				return err
			}
			fmt.Fprintf(out, "  round %d latency %-40s p50 %s  p99 %s\n", round+1, c.label(), ms(c.p50s[round]), ms(c.p99s[round]))
		}
		return nil
	})
}

// besideSUT runs f with the proxies' upstream and Redis moved to the
// SUT's CPU, as the open loop has them, and moves them back.
func besideSUT(ctx context.Context, o options, s *setup, f func() error) (err error) {
	if err := pin(ctx, o.sutCPU, s.upstreamPID, s.redisPID); err != nil {
		return err
	}
	defer func() {
		if perr := pin(ctx, o.loadCPU, s.upstreamPID, s.redisPID); err == nil {
			err = perr
		}
	}()
	return f()
}

// openLoopCeiling is c's closed-loop req/s with the proxies' upstream and
// Redis on the SUT's CPU, where the open loop puts them: the open loop's
// rate is half of it. Half the ceiling measured with them on the load CPU
// is no half load there: the upstream costs about as much CPU per request
// as the proxy, and that rate kept the SUT's CPU 70–110 % busy (more as
// the proxy got cheaper), so its tail was a queue's.
func openLoopCeiling(ctx context.Context, o options, s *setup, c *config) (req float64, err error) {
	err = besideSUT(ctx, o, s, func() error {
		res, err := wrk(ctx, o, c.url, o.duration)
		if err == nil {
			req, err = wrkReqPerSec(c.url, res)
		}
		return err
	})
	return req, err
}

// pin moves every thread of the processes pids to the CPU list cpus.
func pin(ctx context.Context, cpus string, pids ...int) error {
	for _, pid := range pids {
		if b, err := exec.CommandContext(ctx, "taskset", "-a", "-p", "-c", cpus, strconv.Itoa(pid)).CombinedOutput(); err != nil {
			return fmt.Errorf("move process %d to CPU %s: %w: %s", pid, cpus, err, b)
		}
	}
	return nil
}

// label is "(c) gateway, Redis limits".
func (c *config) label() string { return "(" + c.key + ") " + c.name }

// comparedNeighbours orders cs in the ring the rounds visit: each compared
// pair side by side ((b)–(d), (d)–(c), (c)–(e), (c)–(c′) when there is no
// (e) and one apart when there is; (c)–(a) for the open loop, across the
// ring's end), so that a ratio's two sides are measured seconds apart.
func comparedNeighbours(cs []*config) []*config {
	ring := make([]*config, 0, len(cs))
	for _, k := range []string{"a", "b", "d", "c", "e", "c′", "b′"} {
		for _, c := range cs {
			if c.key == k {
				ring = append(ring, c)
			}
		}
	}
	return ring
}

// roundOrder is the order of the configurations in round: ABBA, so that
// a drift of the machine cancels in every ratio. Rounds go in pairs, the
// second the mirror of the first, and each pair starts one place further
// on: 0 1 2 3 | 3 2 1 0 | 1 2 3 0 | 0 3 2 1 … Configurations that are
// compared (the order start gives them) stay neighbours in every round
// but the one whose rotation splits them.
func roundOrder(cs []*config, round int) []*config {
	i := (round / 2) % len(cs)
	order := append(append([]*config{}, cs[i:]...), cs[:i]...)
	if round%2 == 1 {
		slices.Reverse(order)
	}
	return order
}

// start runs the upstream, Redis, the gateways and nginx, and waits until
// each answers.
func start(ctx context.Context, o options, dir string, ps *procs) (*setup, error) {
	addr := func() string {
		p, err := freeport.Pick()
		if err != nil {
			p = 0 // the listener then fails with a clear error
		}
		return fmt.Sprintf("127.0.0.1:%d", p)
	}
	s := &setup{dir: dir, prefix: "bench:" + randomHex() + ":", redisAddr: addr()}
	_, redisPort, _ := strings.Cut(s.redisAddr, ":")
	var err error
	if s.redisPID, err = ps.start(o.loadCPU, filepath.Join(dir, "redis.log"), nil, "redis-server", "--port", redisPort,
		"--bind", "127.0.0.1", "--save", "", "--appendonly", "no"); err != nil {
		return nil, err
	}
	if err := waitRedis(ctx, s.redisAddr); err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("own binary: %w", err)
	}
	upstream := addr()
	if s.upstreamPID, err = ps.start(o.loadCPU, filepath.Join(dir, "upstream.log"), nil, self, "upstream", "-addr", upstream); err != nil {
		return nil, err
	}
	redisURL := "redis://" + s.redisAddr + "/0"
	gw := func(name, dataPath string, env ...string) (url string, internal string, pid int, err error) {
		public, internalAddr := addr(), addr()
		env = append(env, "BOOKING_URL=http://"+upstream, "LOG_LEVEL=warn", "SHUTDOWN_GRACE=1s",
			"GATEWAY_ADDR="+public, "GATEWAY_INTERNAL_ADDR="+internalAddr, "GATEWAY_DATA_PATH="+dataPath)
		pid, err = ps.start(o.sutCPU, filepath.Join(dir, name+".log"), env, o.gateway)
		return "http://" + public + "/api/events", "http://" + internalAddr, pid, err
	}
	// Limits high enough that every benchmark request is allowed: the
	// limiter still decides each one.
	limited := []string{"REDIS_URL=" + redisURL, "REDIS_KEY_PREFIX=" + s.prefix, "RATELIMIT_PUBLIC=1000000000/minute"}
	noLimits := []string{"RATELIMIT_ENABLED=false"}
	nginxAddr, nginxFieldsAddr := addr(), addr()
	// (a) is a second instance of the same upstream on the SUT's CPU, like
	// every other configuration's front: with the one on the load CPU both
	// ends of (a)'s 64 connections would share CPU 1 with the generator,
	// where every other configuration has its front on CPU 0, and (a)'s p99
	// (the baseline of the added p99) would be the generator's wait for
	// CPU 1.
	direct := addr()
	directPID, err := ps.start(o.sutCPU, filepath.Join(dir, "upstream-direct.log"), nil, self, "upstream", "-addr", direct)
	if err != nil {
		return nil, err
	}
	s.configs = []*config{{key: "a", name: "upstream direct", url: "http://" + direct + "/api/events", pids: []int{directPID}, openLoop: true}}
	add := func(key, name, dataPath string, withRedis bool, env []string) error {
		url, _, pid, err := gw("gateway-"+key, dataPath, env...)
		if err != nil {
			return err
		}
		c := &config{key: key, name: name, url: url, pids: []int{pid}, openLoop: dataPath == "fasthttp"}
		if withRedis {
			c.pids = append(c.pids, s.redisPID)
		}
		s.configs = append(s.configs, c)
		return nil
	}
	if err := add("b", "gateway, no limits", "fasthttp", false, noLimits); err != nil {
		return nil, err
	}
	if err := add("c", "gateway, Redis limits", "fasthttp", true, limited); err != nil {
		return nil, err
	}
	if err := writeNginxConf(dir, nginxAddr, nginxFieldsAddr, upstream); err != nil {
		return nil, err
	}
	nginxPID, err := ps.start(o.sutCPU, filepath.Join(dir, "nginx.log"), nil, "nginx", "-p", dir, "-c", filepath.Join(dir, "nginx.conf"))
	if err != nil {
		return nil, err
	}
	s.configs = append(s.configs, &config{key: "d", name: "nginx proxy_pass + limit_req", url: "http://" + nginxAddr + "/api/events", pids: []int{nginxPID}, openLoop: true})
	if o.nginxFields {
		s.configs = append(s.configs, &config{key: "e", name: "nginx + limit_req + the gateway's fields",
			url: "http://" + nginxFieldsAddr + "/api/events", pids: []int{nginxPID}})
	}
	if o.nethttp {
		if err := add("b′", "gateway, no limits, net/http path", "nethttp", false, noLimits); err != nil {
			return nil, err
		}
		if err := add("c′", "gateway, Redis limits, net/http path", "nethttp", true, limited); err != nil {
			return nil, err
		}
	}
	if o.flood > 0 {
		// The seed's limits (public 10/minute): the flood's client is over
		// them after its tenth request.
		url, internal, _, err := gw("gateway-flood", "fasthttp", "REDIS_URL="+redisURL, "REDIS_KEY_PREFIX="+s.prefix+"flood:")
		if err != nil {
			return nil, err
		}
		s.floodURL, s.floodMetrics = url, internal
	}
	for _, c := range s.configs {
		if err := waitUp(ctx, c.url, http.StatusOK); err != nil {
			return nil, fmt.Errorf("%s: %w (logs in %s)", c.label(), err, dir)
		}
	}
	if s.floodURL != "" {
		if err := waitUp(ctx, s.floodMetrics+"/healthz", 0); err != nil {
			return nil, fmt.Errorf("flood gateway: %w", err)
		}
	}
	return s, nil
}

// writeNginxConf writes nginx's configuration: (d) on addr, as the
// issue names it, and (e) on fieldsAddr, which also sets the fields the
// gateway sets on every request and answer, as far as nginx can (the
// rate-limit fields it cannot): what an nginx in the gateway's place
// would have to do.
func writeNginxConf(dir, addr, fieldsAddr, upstream string) error {
	for _, d := range []string{"logs", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o777); err != nil {
			return fmt.Errorf("nginx directories: %w", err)
		}
	}
	// What both servers do with /api/: (d) as the issue names it.
	const proxied = `      limit_req zone=public burst=1000000 nodelay;
      limit_req_status 429;
      proxy_pass http://booking;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
`
	// What (e) also does: the gateway's fields.
	const fields = `      proxy_set_header X-Request-Id $request_id;
      proxy_set_header X-Real-Ip $remote_addr;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Host $host;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_hide_header X-Request-Id;
      add_header X-Request-Id $request_id always;
      add_header X-Content-Type-Options nosniff always;
      add_header Cache-Control no-store always;
      add_header Content-Security-Policy "default-src 'none'; frame-ancestors 'none'" always;
`
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
    listen %[2]s reuseport;
    location /api/ {
%[5]s    }
  }
  server {
    listen %[4]s reuseport;
    location /api/ {
%[5]s%[6]s    }
  }
}
`, dir, addr, upstream, fieldsAddr, proxied, fields)
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644); err != nil {
		return fmt.Errorf("nginx.conf: %w", err)
	}
	return nil
}

// waitUp polls url until it answers want (any status when want is 0).
func waitUp(ctx context.Context, url string, want int) error {
	var last error
	for range 200 {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("wait for %s: %w", url, err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if want == 0 || resp.StatusCode == want {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		last = err
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return errors.Join(fmt.Errorf("%s did not answer %d in 10s", url, want), last)
}

func randomHex() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.3f ms", float64(d)/float64(time.Millisecond))
}
