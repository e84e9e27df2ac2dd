// Package proxy forwards API requests to the service that owns them: one
// pooled, keep-alive transport for every upstream, a shared buffer pool for
// copying bodies, bounded request bodies and JSON errors in the shape of
// DESIGN §2 when an upstream cannot answer.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/acube/platform/libs/web"
	"github.com/acube/platform/services/gateway/internal/route"
)

// HeaderClientIP carries the client address the gateway resolved (from the
// peer, or from X-Forwarded-For behind a trusted proxy), for reading; the
// gateway always overwrites what a client sent. The services do not
// trust it: they resolve the same address from X-Forwarded-For, which the
// proxy extends with its peer, with the same code (libs/clientip).
const HeaderClientIP = "X-Real-IP"

// StatusClientClosed is logged and counted when the client went away before
// the upstream answered (nginx's 499); nobody reads the response.
const StatusClientClosed = 499

// Config describes the upstreams and how to talk to them.
type Config struct {
	// Upstreams maps each owner to its base URL (scheme and host).
	Upstreams map[route.Owner]string
	// MaxIdleConnsPerHost is how many keep-alive connections stay open per
	// upstream; sized for peak concurrency, load never waits for a dial.
	MaxIdleConnsPerHost int
	// DialTimeout bounds connecting to an upstream.
	DialTimeout time.Duration
	// ResponseHeaderTimeout bounds the wait for an upstream's status line.
	ResponseHeaderTimeout time.Duration
	// IdleConnTimeout closes keep-alive connections idle this long.
	IdleConnTimeout time.Duration
	// AnswerFields are fields the gateway writes on answers itself (the
	// rate-limit fields): an upstream's own are dropped, as its echo of
	// X-Request-ID is, so that the client gets the gateway's alone.
	AnswerFields []string
}

func (c *Config) setDefaults() {
	if c.MaxIdleConnsPerHost <= 0 {
		c.MaxIdleConnsPerHost = 512
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

// Proxy holds one reverse proxy per upstream over a shared transport.
type Proxy struct {
	transport *http.Transport
	handlers  map[route.Owner]http.Handler
	errors    *prometheus.CounterVec
	log       *slog.Logger
}

// New builds the proxy and registers its metrics with reg.
func New(cfg Config, reg prometheus.Registerer, log *slog.Logger) (*Proxy, error) {
	cfg.setDefaults()
	dialer := &net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 30 * time.Second}
	p := &Proxy{
		transport: &http.Transport{
			Proxy:                 nil, // never an environment proxy between gateway and services
			DialContext:           dialer.DialContext,
			MaxIdleConns:          cfg.MaxIdleConnsPerHost * max(len(cfg.Upstreams), 1),
			MaxIdleConnsPerHost:   cfg.MaxIdleConnsPerHost,
			IdleConnTimeout:       cfg.IdleConnTimeout,
			ResponseHeaderTimeout: cfg.ResponseHeaderTimeout,
			ExpectContinueTimeout: time.Second,
			DisableCompression:    true, // pass bodies through as the service encoded them
			WriteBufferSize:       16 << 10,
			ReadBufferSize:        16 << 10,
		},
		handlers: make(map[route.Owner]http.Handler, len(cfg.Upstreams)),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_upstream_errors_total",
			Help: "Requests the gateway could not get an answer for, by upstream and kind (unavailable, timeout, bad_gateway, too_large, body_stalled, bad_request, client_closed).",
		}, []string{"upstream", "kind"}),
		log: log,
	}
	if err := reg.Register(p.errors); err != nil {
		return nil, fmt.Errorf("register proxy metrics: %w", err)
	}
	pool := newBufferPool(32<<10, 1024)
	drop := dropFields(append([]string{web.HeaderRequestID}, cfg.AnswerFields...))
	for owner, raw := range cfg.Upstreams {
		target, err := url.Parse(raw)
		if err != nil || target.Host == "" {
			return nil, fmt.Errorf("upstream %s: bad URL %q", owner, raw)
		}
		p.handlers[owner] = &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(target)
				// Keep a trusted proxy's chain (httpapi drops anyone else's),
				// then add our peer.
				if prior := pr.In.Header["X-Forwarded-For"]; len(prior) > 0 {
					pr.Out.Header["X-Forwarded-For"] = prior
				}
				pr.SetXForwarded()
			},
			Transport:  p.transport,
			BufferPool: pool,
			// FlushInterval stays 0: ReverseProxy already flushes streamed
			// (chunked, e.g. CSV export) answers on every write, and
			// flushing known-length ones early would only add syscalls.
			ErrorHandler:   p.errorHandler(owner),
			ModifyResponse: drop,
			ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		}
	}
	return p, nil
}

// Handler returns the reverse proxy to owner, or nil for an unknown one.
func (p *Proxy) Handler(owner route.Owner) http.Handler { return p.handlers[owner] }

// Close drops idle upstream connections.
func (p *Proxy) Close() { p.transport.CloseIdleConnections() }

// dropFields removes names from an upstream's answer: the gateway has
// already set them (its X-Request-ID, and Config.AnswerFields), and
// ReverseProxy would add the upstream's values to its own.
func dropFields(names []string) func(*http.Response) error {
	return func(resp *http.Response) error {
		for _, name := range names {
			resp.Header.Del(name)
		}
		return nil
	}
}

// LimitBody refuses bodies larger than limit: at once with a 413 when the
// length is declared, or when reading passes it (chunked uploads), which
// the error handler turns into the same 413.
func LimitBody(w http.ResponseWriter, r *http.Request, limit int64) bool {
	if r.ContentLength > limit {
		TooLarge(w, limit)
		return false
	}
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = http.MaxBytesReader(w, r.Body, limit)
	}
	return true
}

// IsUpgrade reports whether a request's header h asks to switch
// protocols (Connection: upgrade with an Upgrade field: WebSocket, h2c). No route of the API
// speaks another protocol, and a tunnel would carry requests past the
// gateway's limits, so such requests are refused (RefuseUpgrade), never
// passed on: ReverseProxy would tunnel an upstream's 101.
func IsUpgrade(h http.Header) bool {
	if h.Get("Upgrade") == "" {
		return false
	}
	for _, v := range h["Connection"] {
		for tok := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "upgrade") {
				return true
			}
		}
	}
	return false
}

// RefuseUpgrade writes the JSON 400 for a protocol upgrade.
func RefuseUpgrade(w http.ResponseWriter) {
	web.WriteJSON(w, http.StatusBadRequest, &web.Error{Status: http.StatusBadRequest, Message: "Bad request",
		Detail: "protocol upgrades (WebSocket, h2c) are not supported"})
}

// TooLarge writes the JSON 413.
func TooLarge(w http.ResponseWriter, limit int64) {
	w.Header().Set("Connection", "close")
	web.WriteJSON(w, http.StatusRequestEntityTooLarge, &web.Error{Status: http.StatusRequestEntityTooLarge,
		Message: "Request body too large", Detail: "the body may be at most " + strconv.FormatInt(limit, 10) + " bytes"})
}

func (p *Proxy) errorHandler(owner route.Owner) func(http.ResponseWriter, *http.Request, error) {
	name := string(owner)
	return func(w http.ResponseWriter, r *http.Request, err error) {
		var (
			mbe    *http.MaxBytesError
			opErr  *net.OpError
			netErr net.Error
			kind   string
			e      *web.Error
		)
		switch {
		case errors.As(err, &mbe):
			p.errors.WithLabelValues(name, "too_large").Inc()
			TooLarge(w, mbe.Limit)
			return
		case bodyStalled(r) || errors.Is(err, errBodyStalled):
			p.errors.WithLabelValues(name, "body_stalled").Inc()
			p.log.InfoContext(r.Context(), "request body stalled", "upstream", name,
				"method", r.Method, "path", r.URL.Path, "request_id", web.RequestID(r.Context()))
			RequestTimeout(w)
			return
		case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
			p.errors.WithLabelValues(name, "client_closed").Inc()
			w.WriteHeader(StatusClientClosed)
			return
		case bodyMalformed(r):
			// A bad chunk is the client's error, not a 502: RFC 9112
			// §6.3 asks 400 and a closed connection.
			p.errors.WithLabelValues(name, "bad_request").Inc()
			w.Header().Set("Connection", "close")
			web.WriteJSON(w, http.StatusBadRequest, &web.Error{Status: http.StatusBadRequest, Message: "Bad request",
				Detail: "the request body could not be read: its chunked encoding is malformed or it ended early"})
			return
		case errors.As(err, &opErr) && opErr.Op == "dial":
			kind = "unavailable"
			w.Header().Set("Retry-After", "1")
			e = &web.Error{Status: http.StatusServiceUnavailable, Message: "Service unavailable",
				Detail: "the " + name + " service is not reachable; try again shortly"}
		case errors.As(err, &netErr) && netErr.Timeout(), errors.Is(err, context.DeadlineExceeded):
			kind = "timeout"
			e = &web.Error{Status: http.StatusGatewayTimeout, Message: "Gateway timeout",
				Detail: "the " + name + " service did not answer in time"}
		default:
			kind = "bad_gateway"
			e = &web.Error{Status: http.StatusBadGateway, Message: "Bad gateway",
				Detail: "the " + name + " service failed to answer"}
		}
		p.errors.WithLabelValues(name, kind).Inc()
		p.log.WarnContext(r.Context(), "upstream failed", "upstream", name, "kind", kind,
			"method", r.Method, "path", r.URL.Path, "request_id", web.RequestID(r.Context()), "error", err.Error())
		web.WriteJSON(w, e.Status, e)
	}
}
