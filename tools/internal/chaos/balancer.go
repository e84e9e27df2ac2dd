package chaos

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"slices"
	"sync"
	"time"
)

// Balancer spreads HTTP requests round-robin over a service's replicas,
// the part a Kubernetes Service plays in production: the gateway and the
// other services take one URL per service, so with two replicas they are
// given the balancer's. Replicas join once ready and leave before they are
// stopped, as endpoints follow readiness. A replica that cannot be reached
// is answered 503, as the gateway answers for an upstream it cannot dial,
// so a run reads the same statuses with or without it.
type Balancer struct {
	ln  net.Listener
	srv *http.Server

	mu       sync.Mutex
	backends []string // host:port of each ready replica
	next     int
}

// StartBalancer listens on addr and routes to backends (host:port each).
func StartBalancer(addr string, backends ...string) (*Balancer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("balancer: listen on %s: %w", addr, err)
	}
	b := &Balancer{ln: ln, backends: slices.Clone(backends)}
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     30 * time.Second,
	}
	proxy := &httputil.ReverseProxy{
		// The services see the gateway's forwarding headers unchanged, as
		// through an L4 Service: Rewrite has removed them from Out, and
		// they are put back as they came, with nothing added.
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = "http"
			pr.Out.URL.Host = pr.In.Context().Value(backendKey{}).(string)
			pr.Out.Host = pr.In.Host
			for _, h := range []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"} {
				if v, ok := pr.In.Header[h]; ok {
					pr.Out.Header[h] = v
				}
			}
		},
		Transport:     tr,
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			var op *net.OpError
			if errors.As(err, &op) && op.Op == "dial" {
				w.Header().Set("Retry-After", "1")
				http.Error(w, "balancer: no replica reachable", http.StatusServiceUnavailable)
				return
			}
			http.Error(w, "balancer: "+err.Error(), http.StatusBadGateway)
		},
	}
	b.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			be, ok := b.pick()
			if !ok {
				w.Header().Set("Retry-After", "1")
				http.Error(w, "balancer: no replica ready", http.StatusServiceUnavailable)
				return
			}
			proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), backendKey{}, be)))
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() { _ = b.srv.Serve(ln) }() // returns when Close stops it
	return b, nil
}

// backendKey carries the chosen replica from the handler to Rewrite.
type backendKey struct{}

func (b *Balancer) pick() (string, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.backends) == 0 {
		return "", false
	}
	be := b.backends[b.next%len(b.backends)]
	b.next++
	return be, true
}

// URL is the balancer's base URL.
func (b *Balancer) URL() string { return "http://" + b.ln.Addr().String() }

// Add puts a ready replica into rotation.
func (b *Balancer) Add(backend string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !slices.Contains(b.backends, backend) {
		b.backends = append(b.backends, backend)
	}
}

// Remove takes a replica out of rotation; requests already sent to it
// finish.
func (b *Balancer) Remove(backend string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.backends = slices.DeleteFunc(b.backends, func(s string) bool { return s == backend })
}

// Backends lists the replicas in rotation.
func (b *Balancer) Backends() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.backends)
}

// Close stops listening and drops open connections.
func (b *Balancer) Close() error {
	if err := b.srv.Close(); err != nil {
		return fmt.Errorf("balancer: close: %w", err)
	}
	return nil
}
