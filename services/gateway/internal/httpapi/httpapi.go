// Package httpapi assembles the gateway's two HTTP surfaces. The public
// one (GATEWAY_ADDR) serves the API: every route of DESIGN §2, each rate
// limited by its tier and proxied to its owner, the OpenAPI document and
// Swagger UI; anything else is a JSON 404, the services' and the
// gateway's own /healthz, /readyz and /metrics included. The internal one
// (GATEWAY_INTERNAL_ADDR, reached by the kubelet and Prometheus only)
// serves the gateway's probes and metrics.
package httpapi

import (
	"log/slog"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/acube/platform/libs/clientip"
	"github.com/acube/platform/libs/web"
	"github.com/acube/platform/services/gateway/internal/limitreply"
	"github.com/acube/platform/services/gateway/internal/proxy"
	"github.com/acube/platform/services/gateway/internal/ratelimit"
	"github.com/acube/platform/services/gateway/internal/route"
)

// Deps is what the gateway's handler is built from.
type Deps struct {
	// Routes is the route table (route.Table()).
	Routes []route.Route
	// Upstreams gives the reverse proxy for an owner.
	Upstreams func(route.Owner) http.Handler
	// Limiter decides rate limits; nil turns limits off.
	Limiter *ratelimit.Limiter
	// Clients resolves who a request comes from.
	Clients *clientip.Resolver
	// Probes serves /healthz, /readyz and /metrics on the internal
	// handler.
	Probes *web.Probes
	// Metrics records every request.
	Metrics *web.HTTPMetrics
	// Docs serves /api/openapi.json and /api/docs; nil leaves them out.
	Docs func(chi.Router)
	// MaxBody and MaxUploadBody bound request bodies (413 past them).
	MaxBody, MaxUploadBody int64
	// BodyReadTimeout is how long a request body may send nothing before
	// the request gets a 408 (proxy.GuardBody); 0 waits as long as the
	// server's read timeout allows.
	BodyReadTimeout time.Duration
	Log             *slog.Logger
}

// New returns the gateway's public handler.
func New(d Deps) http.Handler {
	r := chi.NewRouter()
	r.Use(web.RequestIDs, web.SecurityHeaders, d.Metrics.Middleware(d.Log), web.HeaderLimits, closeAfterChunked, cleanPaths)
	r.NotFound(web.NotFoundHandler)
	r.MethodNotAllowed(web.MethodNotAllowedHandler)
	if d.Docs != nil {
		d.Docs(r)
	}

	for _, rt := range d.Routes {
		limit := d.MaxBody
		if rt.Upload {
			limit = d.MaxUploadBody
		}
		h := &routeHandler{key: rt.Key(), upstream: d.Upstreams(rt.Owner), limiter: d.Limiter,
			clients: d.Clients, maxBody: limit, bodyWait: d.BodyReadTimeout, log: d.Log}
		if rt.Method == route.AnyMethod {
			r.Handle(rt.Pattern, h)
		} else {
			r.Method(rt.Method, rt.Pattern, h)
		}
	}
	return r
}

// Internal returns the handler of the internal port: /healthz, /metrics
// and /readyz with the limiter's state.
func Internal(d Deps) http.Handler {
	r := chi.NewRouter()
	r.Use(web.RequestIDs, web.SecurityHeaders, d.Metrics.Middleware(d.Log))
	r.NotFound(web.NotFoundHandler)
	r.MethodNotAllowed(web.MethodNotAllowedHandler)
	probes := chi.NewRouter()
	d.Probes.Mount(probes)
	r.Method(http.MethodGet, "/healthz", probes)
	r.Method(http.MethodGet, "/metrics", probes)
	r.Get("/readyz", readyWithDetail(probes, d.Limiter))
	return r
}

// routeHandler limits and proxies one route.
type routeHandler struct {
	key      string
	upstream http.Handler
	limiter  *ratelimit.Limiter
	clients  *clientip.Resolver
	maxBody  int64
	bodyWait time.Duration
	log      *slog.Logger
}

func (h *routeHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	client := h.clients.Client(r)
	if !client.Proxied {
		// Only a trusted proxy's chain is extended (proxy.New's Rewrite):
		// from anyone else the upstream gets the peer alone, as on the
		// fasthttp path.
		r.Header.Del("X-Forwarded-For")
	}
	r.Header.Set(proxy.HeaderClientIP, client.Addr)
	r.Header.Set(web.HeaderRequestID, web.RequestID(r.Context())) // one id upstream, though the client sent several
	if h.limiter != nil {
		d := h.limiter.Allow(h.key, client.Key)
		if d.Limited() && !d.Tier.Shadow {
			writeLimitHeaders(w.Header(), &d)
		}
		if d.Refused() {
			h.refuse(w, r, &d, client)
			return
		}
		limitreply.Shadow(r.Context(), h.log, &d, h.key, client.Key, web.RequestID(r.Context()))
	}
	if proxy.IsUpgrade(r.Header) {
		proxy.RefuseUpgrade(w)
		return
	}
	if !proxy.LimitBody(w, r, h.maxBody) {
		return
	}
	// The server's ReadTimeout (the whole request) still bounds a body
	// that trickles in: the per-read deadline replaces the connection's.
	r = proxy.GuardBody(w, r, h.bodyWait, start.Add(web.ReadTimeout))
	h.upstream.ServeHTTP(w, r)
}

// cleanPaths answers 404 for paths with dot segments or doubled slashes
// (also percent-encoded, and encoded slashes): routing them would let /api/admin/../../metrics
// reach a service's private endpoints through a catch-all route.
func cleanPaths(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		encodedSlash := r.URL.RawPath != "" && strings.Contains(strings.ToLower(r.URL.RawPath), "%2f")
		if c := path.Clean(p); c != p && c+"/" != p || encodedSlash {
			web.NotFoundHandler(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// closeAfterChunked closes the connection after every request with a
// chunked body. net/http reads a request that has both Content-Length and
// Transfer-Encoding by its chunks and drops Content-Length before any
// handler sees it, so the gateway cannot tell such a request from a plain
// chunked one; RFC 9112 §6.1 asks the server to close the connection
// after answering it, or bytes a front proxy took for its body would be
// served here as the next request. Clients rarely send chunked bodies.
func closeAfterChunked(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TransferEncoding) > 0 {
			w.Header().Set("Connection", "close")
		}
		next.ServeHTTP(w, r)
	})
}
