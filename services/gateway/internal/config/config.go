// Package config is the gateway's configuration, read once from the
// environment. The rate-limit table has its own file (RATELIMIT_CONFIG),
// re-read on SIGHUP; the variables here that start with RATELIMIT_ override
// that file.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	libconfig "github.com/acube/platform/libs/config"
)

// Config is every setting of the gateway.
type Config struct {
	// Base is what every process reads: log level and shutdown grace.
	libconfig.Base

	Addr         string `env:"GATEWAY_ADDR" default:":8001" doc:"public HTTP listen address: the API, its OpenAPI document and /api/docs only (the seed's port, so its curl examples run unchanged)"`
	InternalAddr string `env:"GATEWAY_INTERNAL_ADDR" default:"127.0.0.1:8002" doc:"internal HTTP listen address of /healthz, /readyz and /metrics, for the kubelet and Prometheus only (:8002 in Kubernetes, where a NetworkPolicy guards it); never the public port"`

	DataPath string `env:"GATEWAY_DATA_PATH" default:"fasthttp" doc:"public data path: fasthttp (server and pooled HostClients, the fast one) or nethttp (net/http and httputil.ReverseProxy, the alternative); same behaviour, see docs/gateway.md"`

	Upstreams Upstreams
	Proxy     Proxy
	Redis     Redis
	RateLimit RateLimit
}

// The data paths GATEWAY_DATA_PATH chooses between.
const (
	DataPathFast = "fasthttp"
	DataPathNet  = "nethttp"
)

// Upstreams are the services the gateway routes to (DESIGN §2).
type Upstreams struct {
	Booking  string `env:"BOOKING_URL" default:"http://127.0.0.1:8101" doc:"booking service base URL"`
	Admin    string `env:"ADMIN_URL" default:"http://127.0.0.1:8102" doc:"admin service base URL"`
	Exporter string `env:"EXPORTER_URL" default:"http://127.0.0.1:8104" doc:"exporter service base URL"`
}

// Proxy tunes the reverse proxy and its upstream connections.
type Proxy struct {
	MaxIdleConnsPerHost   int           `env:"UPSTREAM_MAX_IDLE_CONNS" default:"512" doc:"idle keep-alive connections kept per upstream; size for peak concurrency so load never dials"`
	DialTimeout           time.Duration `env:"UPSTREAM_DIAL_TIMEOUT" default:"2s" doc:"how long connecting to an upstream may take before the request gets a 503"`
	ResponseHeaderTimeout time.Duration `env:"UPSTREAM_HEADER_TIMEOUT" default:"30s" doc:"how long an upstream may take to start answering before the request gets a 504 (bodies may stream longer)"`
	IdleConnTimeout       time.Duration `env:"UPSTREAM_IDLE_TIMEOUT" default:"90s" doc:"how long an idle upstream connection is kept"`
	MaxBody               int64         `env:"MAX_BODY_BYTES" default:"1048576" doc:"largest request body accepted; larger ones get a 413"`
	MaxUploadBody         int64         `env:"MAX_UPLOAD_BYTES" default:"10485760" doc:"largest body accepted on upload routes (event images)"`
	BodyReadTimeout       time.Duration `env:"GATEWAY_BODY_READ_TIMEOUT" default:"10s" doc:"how long a request body may send nothing (e.g. fewer bytes than its Content-Length) before the request gets a JSON 408; the whole request still has 30s"`
	TrustedProxies        []string      `env:"TRUSTED_PROXIES" default:"" doc:"comma-separated CIDRs of proxies whose X-Forwarded-For is believed (e.g. the ingress); empty trusts none"`
	IPv6Prefix            int           `env:"IPV6_CLIENT_PREFIX" default:"64" doc:"IPv6 clients are counted per prefix of this length, since one host holds a whole /64"`
}

// Redis is where rate-limit counters live, shared by every replica.
type Redis struct {
	URL             string        `env:"REDIS_URL" default:"redis://127.0.0.1:6379/0" secret:"true" doc:"Redis for shared rate-limit counters; with ?master_name=NAME the host is a Sentinel (more with &addr=host:port, the Redis password as &password=); set to empty (REDIS_URL=) limits in process only, per replica"`
	KeyPrefix       string        `env:"REDIS_KEY_PREFIX" default:"acube:rl:" doc:"prefix of every rate-limit key"`
	Timeout         time.Duration `env:"REDIS_TIMEOUT" default:"50ms" doc:"deadline of one limiter round trip; past it the tier's failure policy decides"`
	BreakerFailures int           `env:"REDIS_BREAKER_FAILURES" default:"3" doc:"consecutive failed round trips that open the circuit breaker"`
	BreakerCooldown time.Duration `env:"REDIS_BREAKER_COOLDOWN" default:"2s" doc:"how long the breaker stays open before one probe tries Redis again"`
	Workers         int           `env:"REDIS_PIPELINE_WORKERS" default:"1" doc:"limiter round trips in flight at once; decisions waiting meanwhile form the next batch, so one is usually fastest (raise for a distant Redis)"`
	BatchMax        int           `env:"REDIS_BATCH_MAX" default:"256" doc:"most limiter decisions sent in one round trip"`
	LeaseMax        int           `env:"REDIS_LEASE_MAX" default:"65535" doc:"most tokens one lease takes from Redis for a generous tier (every burst ≥ 32; a lease is at most 1/16 of the smallest burst, and about what the key used over REDIS_LEASE_TTL); 0 turns leases off (every decision in Redis), at most 65535"`
	LeaseTTL        time.Duration `env:"REDIS_LEASE_TTL" default:"1s" doc:"how long leased tokens may be spent before they lapse; bounds over-admission to rate×TTL/period per window"`
	NegativeCache   bool          `env:"REDIS_NEGATIVE_CACHE" default:"true" doc:"repeat a refusal of Redis locally until its Retry-After, so a flood of 429s costs no round trips"`
}

// RateLimit locates the tier table and overrides parts of it.
type RateLimit struct {
	Enabled       bool     `env:"RATELIMIT_ENABLED" default:"true" doc:"false turns every limit off (benchmarks only)"`
	File          string   `env:"RATELIMIT_CONFIG" default:"" doc:"path of the tier/route table (YAML); empty uses the built-in seed defaults; re-read on SIGHUP"`
	Public        string   `env:"RATELIMIT_PUBLIC" default:"" doc:"override the public tier's windows, e.g. 10/minute,30/hour"`
	Admin         string   `env:"RATELIMIT_ADMIN" default:"" doc:"override the admin tier's windows, e.g. 60/minute,1000/hour"`
	Auth          string   `env:"RATELIMIT_AUTH" default:"" doc:"override the auth tier's windows, e.g. 5/minute,20/hour"`
	Upload        string   `env:"RATELIMIT_UPLOAD" default:"" doc:"override the upload tier's windows, e.g. 10/minute,50/hour"`
	Export        string   `env:"RATELIMIT_EXPORT" default:"" doc:"override the export tier's windows, e.g. 5/minute,20/hour"`
	Shadow        []string `env:"RATELIMIT_SHADOW" default:"" doc:"tiers that only count and never refuse, e.g. public,export (replaces the file's shadow flags when set)"`
	OnRedisError  []string `env:"RATELIMIT_ON_REDIS_ERROR" default:"" doc:"per-tier policy while Redis is unreachable: tier=local|open|closed, comma-separated"`
	NearLimitFrac float64  `env:"RATELIMIT_NEAR_LIMIT" default:"0.8" doc:"share of a window's quota used from which a request counts as near the limit"`
}

// Load reads and checks the configuration.
func Load(lookup libconfig.LookupEnv) (Config, error) {
	var c Config
	if err := libconfig.Load(lookup, &c); err != nil {
		return Config{}, err
	}
	return c, c.validate()
}

func (c Config) validate() error {
	errs := []error{c.Base.Validate()}
	for name, raw := range map[string]string{"BOOKING_URL": c.Upstreams.Booking, "ADMIN_URL": c.Upstreams.Admin, "EXPORTER_URL": c.Upstreams.Exporter} {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("config: %s=%q: want an http(s) URL with a host", name, raw))
		}
	}
	if c.InternalAddr == "" || c.InternalAddr == c.Addr {
		errs = append(errs, errors.New("config: GATEWAY_INTERNAL_ADDR must be set and differ from GATEWAY_ADDR: probes and metrics stay off the public port"))
	}
	if c.DataPath != DataPathFast && c.DataPath != DataPathNet {
		errs = append(errs, fmt.Errorf("config: GATEWAY_DATA_PATH=%q: want %s or %s", c.DataPath, DataPathFast, DataPathNet))
	}
	if c.Proxy.MaxBody <= 0 || c.Proxy.MaxUploadBody <= 0 {
		errs = append(errs, errors.New("config: MAX_BODY_BYTES and MAX_UPLOAD_BYTES must be positive"))
	}
	if c.Proxy.BodyReadTimeout <= 0 {
		errs = append(errs, errors.New("config: GATEWAY_BODY_READ_TIMEOUT must be positive"))
	}
	if c.Proxy.MaxIdleConnsPerHost <= 0 {
		errs = append(errs, errors.New("config: UPSTREAM_MAX_IDLE_CONNS must be positive"))
	}
	if c.Proxy.IPv6Prefix < 0 || c.Proxy.IPv6Prefix > 128 {
		errs = append(errs, errors.New("config: IPV6_CLIENT_PREFIX must be 0..128"))
	}
	if c.Redis.Timeout <= 0 || c.Redis.Workers <= 0 || c.Redis.BatchMax <= 0 || c.Redis.BreakerFailures <= 0 {
		errs = append(errs, errors.New("config: REDIS_TIMEOUT, REDIS_PIPELINE_WORKERS, REDIS_BATCH_MAX and REDIS_BREAKER_FAILURES must be positive"))
	}
	if c.Redis.LeaseMax < 0 || c.Redis.LeaseMax > 65535 || c.Redis.LeaseTTL <= 0 {
		errs = append(errs, errors.New("config: REDIS_LEASE_MAX must be 0..65535 and REDIS_LEASE_TTL positive"))
	}
	if c.RateLimit.NearLimitFrac <= 0 || c.RateLimit.NearLimitFrac > 1 {
		errs = append(errs, errors.New("config: RATELIMIT_NEAR_LIMIT must be in (0, 1]"))
	}
	return errors.Join(errs...)
}
