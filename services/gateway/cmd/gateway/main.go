// Command gateway is the A-Cube API's front door: it routes every /api path
// of DESIGN §2 to the service that owns it, enforces the seed's rate-limit
// tiers with counters shared by every replica through Redis, and serves
// the API's OpenAPI document and Swagger UI. Its own probes and metrics
// answer on a second, internal port (GATEWAY_INTERNAL_ADDR), never on the
// public one.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/acube/platform/libs/clientip"
	libconfig "github.com/acube/platform/libs/config"
	"github.com/acube/platform/libs/lifecycle"
	"github.com/acube/platform/libs/logging"
	"github.com/acube/platform/libs/web"
	"github.com/acube/platform/services/gateway"
	"github.com/acube/platform/services/gateway/internal/config"
	"github.com/acube/platform/services/gateway/internal/fastpath"
	"github.com/acube/platform/services/gateway/internal/httpapi"
	"github.com/acube/platform/services/gateway/internal/limitreply"
	"github.com/acube/platform/services/gateway/internal/openapi"
	"github.com/acube/platform/services/gateway/internal/proxy"
	"github.com/acube/platform/services/gateway/internal/ratelimit"
	"github.com/acube/platform/services/gateway/internal/rawconn"
	"github.com/acube/platform/services/gateway/internal/route"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.LookupEnv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, lookupEnv libconfig.LookupEnv, stdout io.Writer) error {
	cfg, err := config.Load(lookupEnv)
	if err != nil {
		return err
	}
	log := logging.New(stdout, "gateway", cfg.LogLevel)
	log.Info("starting", libconfig.LogValue(&cfg)...)

	reg := web.NewRegistry()
	httpMetrics, err := web.NewHTTPMetrics(reg)
	if err != nil {
		return fmt.Errorf("register http metrics: %w", err)
	}
	routes := route.Table()
	upstreams := map[route.Owner]string{
		route.Booking: cfg.Upstreams.Booking, route.Admin: cfg.Upstreams.Admin, route.Exporter: cfg.Upstreams.Exporter,
	}
	clients, err := clientip.New(clientip.Config{TrustedProxies: cfg.Proxy.TrustedProxies, IPv6Prefix: cfg.Proxy.IPv6Prefix})
	if err != nil {
		return fmt.Errorf("config: TRUSTED_PROXIES: %w", err)
	}

	var (
		limiter *ratelimit.Limiter
		source  = rateLimitSource(cfg, routes)
	)
	if cfg.RateLimit.Enabled {
		table, err := source.Load()
		if err != nil {
			return err
		}
		var shared *ratelimit.Redis
		if cfg.Redis.URL == "" {
			log.Warn("REDIS_URL is empty: rate limits are counted in process, per replica")
		} else {
			rdb, err := newRedisClient(cfg.Redis)
			if err != nil {
				return err
			}
			defer rdb.Close()
			if shared, err = ratelimit.NewRedis(rdb, ratelimit.RedisConfig{
				KeyPrefix: cfg.Redis.KeyPrefix, Timeout: cfg.Redis.Timeout,
				Workers: cfg.Redis.Workers, BatchMax: cfg.Redis.BatchMax,
				BreakerFailures: cfg.Redis.BreakerFailures, BreakerCooldown: cfg.Redis.BreakerCooldown,
				LeaseMax: leaseMax(cfg.Redis.LeaseMax), LeaseTTL: cfg.Redis.LeaseTTL, NoNegativeCache: !cfg.Redis.NegativeCache,
			}, reg, log); err != nil {
				return err
			}
			defer shared.Close()
			pingCtx, cancel := context.WithTimeout(ctx, time.Second)
			if err := rdb.Ping(pingCtx).Err(); err != nil {
				log.Warn("redis unreachable: rate limits fall back to each tier's policy until it answers", "error", err.Error())
			}
			cancel()
		}
		if limiter, err = ratelimit.New(table, shared, ratelimit.NewLocal(time.Now, 0),
			ratelimit.Config{NearLimit: cfg.RateLimit.NearLimitFrac}, reg, log); err != nil {
			return err
		}
		log.Info("rate limits loaded", "tiers", table.TierNames(), "file", cfg.RateLimit.File)
	} else {
		log.Warn("RATELIMIT_ENABLED=false: no rate limits")
	}

	// The gateway's readiness has no dependency checks: a degraded limiter
	// (Redis down) is reported in /readyz's body (httpapi), never a
	// reason to leave the load balancer.
	probes := web.NewProbes(reg, map[string]web.Check{})
	deps := httpapi.Deps{
		Routes: routes, Limiter: limiter, Clients: clients,
		Probes: probes, Metrics: httpMetrics, Docs: openapi.Mount,
		MaxBody: cfg.Proxy.MaxBody, MaxUploadBody: cfg.Proxy.MaxUploadBody,
		BodyReadTimeout: cfg.Proxy.BodyReadTimeout, Log: log,
	}
	public, err := publicServer(cfg, deps, upstreams, reg)
	if err != nil {
		return err
	}
	defer public.Close()
	// The public port too is bound before anything serves.
	publicLn, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on GATEWAY_ADDR %s: %w", cfg.Addr, err)
	}
	defer publicLn.Close()
	// Probes and metrics answer on their own port, never the public one.
	// It is bound before anything serves, so a taken port fails the start.
	internalLn, err := net.Listen("tcp", cfg.InternalAddr)
	if err != nil {
		return fmt.Errorf("listen on GATEWAY_INTERNAL_ADDR %s: %w", cfg.InternalAddr, err)
	}
	defer internalLn.Close()
	log.Info("internal http server listening", "addr", internalLn.Addr().String(), "serves", "/healthz /readyz /metrics")
	internal := web.NewServer(cfg.InternalAddr, httpapi.Internal(deps))

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	lc, err := lifecycle.New(lifecycle.Config{
		Server: public, Listener: publicLn, Probes: probes,
		Workers: []lifecycle.Task{serveInternal(internal, internalLn), func(ctx context.Context) error {
			for {
				select {
				case <-ctx.Done():
					return nil
				case <-hup:
					reload(limiter, source, log)
				}
			}
		}},
		Grace: cfg.ShutdownGrace, Log: log,
	})
	if err != nil {
		return err
	}
	return lc.Run(ctx)
}

// publicServer builds the public data path GATEWAY_DATA_PATH names:
// fasthttp's server and HostClients (package fastpath), or net/http with
// httputil.ReverseProxy (packages httpapi and proxy). Both answer alike.
func publicServer(cfg config.Config, deps httpapi.Deps, upstreams map[route.Owner]string, reg *prometheus.Registry) (lifecycle.Server, error) {
	if cfg.DataPath == config.DataPathFast {
		return fastpath.New(fastpath.Config{
			Routes: deps.Routes, Upstreams: upstreams, Limiter: deps.Limiter, Clients: deps.Clients,
			Metrics: deps.Metrics, Docs: deps.Docs, MaxBody: deps.MaxBody, MaxUploadBody: deps.MaxUploadBody,
			BodyReadTimeout: deps.BodyReadTimeout, MaxConnsPerHost: cfg.Proxy.MaxIdleConnsPerHost,
			DialTimeout: cfg.Proxy.DialTimeout, ResponseHeaderTimeout: cfg.Proxy.ResponseHeaderTimeout,
			IdleConnTimeout: cfg.Proxy.IdleConnTimeout, Log: deps.Log,
		}, reg)
	}
	px, err := proxy.New(proxy.Config{
		Upstreams:             upstreams,
		MaxIdleConnsPerHost:   cfg.Proxy.MaxIdleConnsPerHost,
		DialTimeout:           cfg.Proxy.DialTimeout,
		ResponseHeaderTimeout: cfg.Proxy.ResponseHeaderTimeout,
		IdleConnTimeout:       cfg.Proxy.IdleConnTimeout,
		AnswerFields:          limitreply.Names[:],
	}, reg, deps.Log)
	if err != nil {
		return nil, err
	}
	deps.Upstreams = px.Handler
	return &netServer{Server: web.NewServer(cfg.Addr, httpapi.New(deps)), proxy: px}, nil
}

// netServer is the net/http data path; closing it drops the proxy's
// idle upstream connections too.
type netServer struct {
	*http.Server
	proxy *proxy.Proxy
}

func (s *netServer) Close() error {
	s.proxy.Close()
	return s.Server.Close()
}

// serveInternal serves the internal port as a lifecycle worker. Workers
// stop after the public server has drained, so the kubelet reads /readyz
// (503 from the first shutdown step on) and Prometheus scrapes until the
// end.
func serveInternal(srv *http.Server, ln net.Listener) lifecycle.Task {
	return func(ctx context.Context) error {
		served := make(chan error, 1)
		go func() { served <- srv.Serve(ln) }()
		select {
		case err := <-served:
			return fmt.Errorf("internal http server: %w", err)
		case <-ctx.Done():
		}
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			_ = srv.Close()
		}
		<-served
		return nil
	}
}

// reload re-reads the rate-limit table on SIGHUP. Requests never wait: the
// new table is swapped in whole, and a bad one leaves the old in force.
// leaseMax maps REDIS_LEASE_MAX (0 = off) to ratelimit's (negative = off).
func leaseMax(n int) int {
	if n <= 0 {
		return -1
	}
	return n
}

func reload(limiter *ratelimit.Limiter, src ratelimit.Source, log *slog.Logger) {
	if limiter == nil {
		log.Info("SIGHUP ignored: rate limits are off")
		return
	}
	if err := limiter.Reload(src); err != nil {
		log.Error("rate-limit table not reloaded, the previous one stays in force", "file", src.Path, "error", err.Error())
		return
	}
	log.Info("rate-limit table reloaded", "file", src.Path, "tiers", limiter.Table().TierNames())
}

func rateLimitSource(cfg config.Config, routes []route.Route) ratelimit.Source {
	keys := make([]string, 0, len(routes))
	for _, r := range routes {
		keys = append(keys, r.Key())
	}
	rl := cfg.RateLimit
	ov := ratelimit.Overrides{
		Windows: map[string]string{
			"public": rl.Public, "admin": rl.Admin, "auth": rl.Auth, "upload": rl.Upload, "export": rl.Export,
		},
		Shadow:       rl.Shadow,
		OnRedisError: rl.OnRedisError,
	}
	return ratelimit.Source{Path: rl.File, Default: gateway.DefaultRateLimits(), Overrides: ov, RouteKeys: keys}
}

// newRedisClient connects to the counters' Redis with fail-fast settings:
// no retries and deadlines from the limiter's own timeout, so a slow Redis
// costs one timeout and then the circuit breaker, never a pile-up. A URL
// with a master_name parameter names Sentinels instead (the production
// chart runs Redis with Sentinel): the client asks them for the primary
// and follows a failover. Its TCP connections make raw reads and writes,
// as the data path's do (package rawconn).
func newRedisClient(cfg config.Redis) (*redis.Client, error) {
	if u, err := url.Parse(cfg.URL); err == nil && u.Query().Has("master_name") {
		opts, err := redis.ParseFailoverURL(cfg.URL)
		if err != nil {
			return nil, fmt.Errorf("config: REDIS_URL (Sentinel): %w", err)
		}
		opts.MaxRetries, opts.DialerRetries, opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout,
			opts.PoolTimeout, opts.PoolSize, opts.MinIdleConns = failFast(cfg)
		opts.ContextTimeoutEnabled = true
		opts.Dialer = rawconn.WrapDial(redis.NewDialer(&redis.Options{DialTimeout: opts.DialTimeout, TLSConfig: opts.TLSConfig}))
		return redis.NewFailoverClient(opts), nil
	}
	opts, err := redis.ParseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("config: REDIS_URL: %w", err)
	}
	opts.MaxRetries, opts.DialerRetries, opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout,
		opts.PoolTimeout, opts.PoolSize, opts.MinIdleConns = failFast(cfg)
	opts.ContextTimeoutEnabled = true
	opts.Dialer = rawconn.WrapDial(redis.NewDialer(opts))
	return redis.NewClient(opts), nil
}

// failFast is the Redis client's retries, timeouts and pool for cfg: no
// retries (the breaker retries, not the client), one dial attempt, I/O
// deadlines of one limiter round trip, a pool as large as the workers
// need.
func failFast(cfg config.Redis) (retries, dialerRetries int, dial, read, write, pool time.Duration, size, idle int) {
	return -1, 1, max(cfg.Timeout*4, 200*time.Millisecond), cfg.Timeout, cfg.Timeout, cfg.Timeout, cfg.Workers * 2, cfg.Workers
}
