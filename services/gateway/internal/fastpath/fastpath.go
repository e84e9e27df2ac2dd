// Package fastpath is the gateway's public data path on fasthttp: one
// server for /api and one pooled keep-alive HostClient per upstream, with
// every behaviour of the net/http path (httpapi + proxy) kept: request
// ids, security headers, the same metrics and access log, the JSON 404,
// 405, 408, 411, 413, 415, 431, 429 and 502/503/504, cleaned paths, rate
// limits, client addresses, hop-by-hop headers stripped both ways and
// streamed answers passed through unbuffered. Probes and metrics stay on
// net/http (httpapi.Internal) on the internal port.
//
// docs/benchmarks-gateway.md ("Data path: fasthttp") says why and how.
package fastpath

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/acube/platform/libs/clientip"
	"github.com/acube/platform/libs/web"
	"github.com/acube/platform/services/gateway/internal/ratelimit"
	"github.com/acube/platform/services/gateway/internal/rawconn"
	"github.com/acube/platform/services/gateway/internal/route"
)

// Config is what the data path is built from.
type Config struct {
	// Routes is the route table (route.Table()).
	Routes []route.Route
	// Upstreams maps each owner to its base URL (http, scheme and host).
	Upstreams map[route.Owner]string
	// Limiter decides rate limits; nil turns limits off.
	Limiter *ratelimit.Limiter
	// Clients resolves who a request comes from.
	Clients *clientip.Resolver
	// Metrics records every request, in the series of web.HTTPMetrics.
	Metrics *web.HTTPMetrics
	// Docs serves /api/openapi.json and /api/docs (openapi.Mount); nil
	// leaves them out.
	Docs func(chi.Router)
	// MaxBody and MaxUploadBody bound request bodies (413 past them).
	MaxBody, MaxUploadBody int64
	// BodyReadTimeout is how long a request body may send nothing before
	// the request gets a 408 [10s].
	BodyReadTimeout time.Duration
	// MaxConnsPerHost bounds the connections to each upstream [512]; a
	// request waits up to ResponseHeaderTimeout for a free one.
	MaxConnsPerHost int
	// DialTimeout bounds connecting to an upstream [2s].
	DialTimeout time.Duration
	// ResponseHeaderTimeout bounds the wait for an upstream's answer
	// after the request was sent [30s]; the body may stream longer.
	ResponseHeaderTimeout time.Duration
	// IdleConnTimeout closes upstream connections idle this long [90s].
	IdleConnTimeout time.Duration
	// Log receives the access log and errors.
	Log *slog.Logger
}

func (c *Config) setDefaults() {
	if c.BodyReadTimeout <= 0 {
		c.BodyReadTimeout = 10 * time.Second
	}
	if c.MaxConnsPerHost <= 0 {
		c.MaxConnsPerHost = 512
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = 2 * time.Second
	}
	if c.ResponseHeaderTimeout <= 0 {
		c.ResponseHeaderTimeout = 30 * time.Second
	}
	if c.IdleConnTimeout <= 0 {
		c.IdleConnTimeout = 90 * time.Second
	}
}

// Validate reports a configuration that cannot run.
func (c *Config) Validate() error {
	var errs []error
	if c.Clients == nil || c.Metrics == nil || c.Log == nil {
		errs = append(errs, errors.New("fastpath: Clients, Metrics and Log are required"))
	}
	if c.MaxBody <= 0 || c.MaxUploadBody <= 0 {
		errs = append(errs, errors.New("fastpath: MaxBody and MaxUploadBody must be positive"))
	}
	return errors.Join(errs...)
}

// Server is the public data path.
type Server struct {
	mu      sync.Mutex
	ln      net.Listener
	stopped bool

	ids       *idSource
	cfg       Config
	srv       *fasthttp.Server
	routes    router
	upstreams map[route.Owner]*upstream
	docs      fasthttp.RequestHandler
	unmatched map[string]*web.RouteMetrics // by method
	errors    *prometheus.CounterVec
	maxBody   int64 // the largest route limit
}

// New builds the data path and registers its upstream error counter
// (gateway_upstream_errors_total, as the net/http proxy) with reg.
func New(cfg Config, reg prometheus.Registerer) (*Server, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg:       cfg,
		upstreams: make(map[route.Owner]*upstream, len(cfg.Upstreams)),
		unmatched: make(map[string]*web.RouteMetrics, len(allowOrder)),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_upstream_errors_total",
			Help: "Requests the gateway could not get an answer for, by upstream and kind (unavailable, timeout, bad_gateway, too_large, body_stalled, bad_request, client_closed).",
		}, []string{"upstream", "kind"}),
		maxBody: max(cfg.MaxBody, cfg.MaxUploadBody),
		ids:     newIDSource(),
	}
	if err := reg.Register(s.errors); err != nil {
		return nil, fmt.Errorf("register data path metrics: %w", err)
	}
	for owner, raw := range cfg.Upstreams {
		u, err := newUpstream(owner, raw, &cfg)
		if err != nil {
			return nil, err
		}
		s.upstreams[owner] = u
	}
	for _, m := range allowOrder {
		s.unmatched[m] = cfg.Metrics.Route("unmatched", m)
	}
	for _, rt := range cfg.Routes {
		up := s.upstreams[rt.Owner]
		if up == nil {
			return nil, fmt.Errorf("route %s: no upstream for owner %s", rt.Key(), rt.Owner)
		}
		limit := cfg.MaxBody
		if rt.Upload {
			limit = cfg.MaxUploadBody
		}
		s.routes.add(rt, &entry{pattern: rt.Pattern, method: rt.Method, key: rt.Key(), upstream: up, maxBody: limit,
			metrics: cfg.Metrics.Route(rt.Pattern, rt.Method)})
	}
	if cfg.Docs != nil {
		r := chi.NewRouter()
		r.Use(web.SecurityHeaders)
		r.NotFound(web.NotFoundHandler)
		r.MethodNotAllowed(web.MethodNotAllowedHandler)
		cfg.Docs(r)
		s.docs = fasthttpadaptor.NewFastHTTPHandler(r)
		for _, rt := range route.Served() {
			s.routes.add(rt, &entry{pattern: rt.Pattern, method: rt.Method, key: rt.Key(), docs: true,
				metrics: cfg.Metrics.Route(rt.Pattern, rt.Method)})
		}
	}
	s.srv = &fasthttp.Server{
		Handler:        s.handle,
		ErrorHandler:   s.parseError,
		ExpectHandler:  s.expect,
		HeaderReceived: s.headerReceived,
		Name:           "",
		// The request line and headers must fit the read buffer: past it
		// fasthttp reports ErrSmallBuffer, answered with the JSON 431
		// (parseError), as the handler answers headers past
		// web.MaxHeaderBytes.
		ReadBufferSize:  web.MaxHeaderBytes + 4<<10,
		WriteBufferSize: 16 << 10,
		// The request line and headers have 5 s, as net/http's
		// ReadHeaderTimeout in web.NewServer; a body BodyReadTimeout per
		// read (headerReceived, guardedBody), never past web.ReadTimeout.
		ReadTimeout:        5 * time.Second,
		WriteTimeout:       5 * time.Minute, // CSV exports stream for long, as web.NewServer
		IdleTimeout:        2 * time.Minute,
		MaxRequestBodySize: int(s.maxBody),
		// Bodies are streamed to the upstream as they arrive, never
		// buffered whole: uploads cost no memory, and a stalled body is
		// noticed read by read (BodyReadTimeout).
		StreamRequestBody:             true,
		DisablePreParseMultipartForm:  true,
		NoDefaultServerHeader:         true,
		NoDefaultContentType:          true,
		DisableHeaderNamesNormalizing: false,
		CloseOnShutdown:               true,
		Logger:                        fasthttpLogger{log: cfg.Log},
	}
	return s, nil
}

// Serve answers on ln until Shutdown; it returns nil after a shutdown.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return nil
	}
	s.ln = ln
	s.mu.Unlock()
	// Raw reads and writes (package rawconn), and each connection's
	// client resolved once (peerConn).
	err := s.srv.Serve(peerListener{rawconn.Listener{Listener: ln}})
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return nil
	}
	return err
}

// Shutdown stops accepting, closes idle connections and waits for the
// requests in flight (their connections close after them) until ctx
// ends. It may come before Serve has started accepting (a signal during
// start-up): the listener is closed here too, so Serve returns at once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.stopped = true
	ln := s.ln
	s.mu.Unlock()
	err := s.srv.ShutdownWithContext(ctx)
	if ln != nil {
		_ = ln.Close()
	}
	return err
}

// Close drops the upstreams' idle connections. fasthttp has no hard stop
// of client connections: Shutdown's deadline passed, the process exits.
func (s *Server) Close() error {
	for _, u := range s.upstreams {
		u.client.CloseIdleConnections()
	}
	return nil
}

// fasthttpLogger sends fasthttp's own messages (connection errors) to
// slog at debug level: the client's fault, answered already.
type fasthttpLogger struct{ log *slog.Logger }

func (l fasthttpLogger) Printf(format string, args ...any) {
	if l.log.Enabled(context.Background(), slog.LevelDebug) {
		l.log.Debug("fasthttp", "message", fmt.Sprintf(format, args...))
	}
}
