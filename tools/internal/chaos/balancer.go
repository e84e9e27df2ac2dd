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
// given the balancer's. A replica that cannot be reached is answered 503,
// as the gateway answers for an upstream it cannot dial, so a run reads
// the same statuses with or without it.
//
// A balancer started with StartBalancer is told which replicas are ready
// (Add once ready, Remove before a stop). One started with
// StartProbingBalancer finds out itself, as endpoints follow readiness
// probes: it polls each replica's readiness path and sends only to the
// replicas whose probe passes; Remove still takes a replica out at once,
// as a terminating pod leaves the endpoints before it gets SIGTERM.
type Balancer struct {
	ln  net.Listener
	srv *http.Server
	// probe is nil for a balancer that is told readiness.
	probe *Probe
	stop  context.CancelFunc
	done  chan struct{}

	mu       sync.Mutex
	backends []string // host:port of each ready replica: the rotation
	next     int
	// targets are every replica added, ready or not, in the order added
	// (probing balancers only).
	targets []*target
	// changed is closed and replaced whenever the rotation changes.
	changed chan struct{}
}

// Probe is a readiness probe as a Deployment declares it, polled by a
// probing Balancer.
type Probe struct {
	// Path is the readiness path, e.g. /readyz.
	Path string
	// Period is how often each replica is probed [1s].
	Period time.Duration
	// Timeout bounds one probe [1s].
	Timeout time.Duration
	// FailureThreshold is how many probes in a row must fail before a
	// ready replica leaves the rotation [3].
	FailureThreshold int
	// SuccessThreshold is how many probes in a row must pass before a
	// replica joins it [1].
	SuccessThreshold int
}

func (p *Probe) setDefaults() {
	if p.Period <= 0 {
		p.Period = time.Second
	}
	if p.Timeout <= 0 {
		p.Timeout = time.Second
	}
	if p.FailureThreshold <= 0 {
		p.FailureThreshold = 3
	}
	if p.SuccessThreshold <= 0 {
		p.SuccessThreshold = 1
	}
}

// target is one replica of a probing balancer and its probe's history.
type target struct {
	addr             string
	probe            string // the readiness probe's URL
	ready            bool
	passes, failures int
}

// StartBalancer listens on addr and routes to backends (host:port each),
// which are taken to be ready.
func StartBalancer(addr string, backends ...string) (*Balancer, error) {
	b, err := listen(addr)
	if err != nil {
		return nil, err
	}
	b.backends = slices.Clone(backends)
	b.serve()
	return b, nil
}

// StartProbingBalancer listens on addr and routes to the replicas added
// with Add whose readiness probe p passes.
func StartProbingBalancer(addr string, p Probe) (*Balancer, error) {
	b, err := listen(addr)
	if err != nil {
		return nil, err
	}
	p.setDefaults()
	b.probe = &p
	ctx, cancel := context.WithCancel(context.Background())
	b.stop, b.done = cancel, make(chan struct{})
	go b.probeLoop(ctx)
	b.serve()
	return b, nil
}

func listen(addr string) (*Balancer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("balancer: listen on %s: %w", addr, err)
	}
	return &Balancer{ln: ln, changed: make(chan struct{})}, nil
}

// serve starts answering on the listener.
func (b *Balancer) serve() {
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
	go func() { _ = b.srv.Serve(b.ln) }() // returns when Close stops it
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

// Addr is the balancer's host:port.
func (b *Balancer) Addr() string { return b.ln.Addr().String() }

// Add puts a ready replica into rotation; on a probing balancer it adds a
// replica whose probe (Probe.Path on the same host:port) decides when it
// joins.
func (b *Balancer) Add(backend string) {
	b.mu.Lock()
	probe := ""
	if b.probe != nil {
		probe = "http://" + backend + b.probe.Path
	}
	b.mu.Unlock()
	b.AddProbed(backend, probe)
}

// AddProbed adds a replica to a probing balancer whose readiness probe is
// at probeURL, for a pod probed on a port of its own (a Deployment's
// readinessProbe on an internal port); on a balancer that is told
// readiness it is Add.
func (b *Balancer) AddProbed(backend, probeURL string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.probe != nil {
		if !slices.ContainsFunc(b.targets, func(t *target) bool { return t.addr == backend }) {
			b.targets = append(b.targets, &target{addr: backend, probe: probeURL})
		}
		return
	}
	if !slices.Contains(b.backends, backend) {
		b.backends = append(b.backends, backend)
		b.notify()
	}
}

// Remove takes a replica out of rotation at once (and, on a probing
// balancer, stops probing it); requests already sent to it finish.
func (b *Balancer) Remove(backend string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.targets = slices.DeleteFunc(b.targets, func(t *target) bool { return t.addr == backend })
	n := len(b.backends)
	b.backends = slices.DeleteFunc(b.backends, func(s string) bool { return s == backend })
	if len(b.backends) != n {
		b.notify()
	}
}

// Backends lists the replicas in rotation.
func (b *Balancer) Backends() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.backends)
}

// WaitBackend waits until backend is in rotation, or ctx ends.
func (b *Balancer) WaitBackend(ctx context.Context, backend string) error {
	err := b.WaitRotation(ctx, func(rotation []string) bool { return slices.Contains(rotation, backend) })
	if err != nil {
		return fmt.Errorf("balancer %s: %s not in rotation: %w", b.Addr(), backend, err)
	}
	return nil
}

// WaitRotation waits until ok holds for the rotation, or ctx ends.
func (b *Balancer) WaitRotation(ctx context.Context, ok func(rotation []string) bool) error {
	for {
		b.mu.Lock()
		done, changed := ok(slices.Clone(b.backends)), b.changed
		b.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		}
	}
}

// notify wakes WaitBackend callers; b.mu is held.
func (b *Balancer) notify() {
	close(b.changed)
	b.changed = make(chan struct{})
}

// probeLoop probes every target each Period until ctx ends.
func (b *Balancer) probeLoop(ctx context.Context) {
	defer close(b.done)
	client := &http.Client{Timeout: b.probe.Timeout}
	tick := time.NewTicker(b.probe.Period)
	defer tick.Stop()
	for {
		b.mu.Lock()
		addrs := make([]string, len(b.targets))
		urls := make([]string, len(b.targets))
		for i, t := range b.targets {
			addrs[i], urls[i] = t.addr, t.probe
		}
		b.mu.Unlock()
		passed := make([]bool, len(addrs))
		var wg sync.WaitGroup
		for i, u := range urls {
			wg.Go(func() { passed[i] = probeOnce(ctx, client, u) })
		}
		wg.Wait()
		b.record(addrs, passed)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// probeOnce reports whether url answers 2xx or 3xx, as an httpGet probe
// counts it.
func probeOnce(ctx context.Context, client *http.Client, url string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode >= 200 && resp.StatusCode < 400
}

// record applies one round of probe results and rebuilds the rotation in
// the order the targets were added.
func (b *Balancer) record(addrs []string, passed []bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, a := range addrs {
		for _, t := range b.targets {
			if t.addr != a {
				continue
			}
			if passed[i] {
				t.passes, t.failures = t.passes+1, 0
				if t.passes >= b.probe.SuccessThreshold {
					t.ready = true
				}
			} else {
				t.passes, t.failures = 0, t.failures+1
				if t.failures >= b.probe.FailureThreshold {
					t.ready = false
				}
			}
		}
	}
	var rotation []string
	for _, t := range b.targets {
		if t.ready {
			rotation = append(rotation, t.addr)
		}
	}
	if !slices.Equal(rotation, b.backends) {
		b.backends = rotation
		b.notify()
	}
}

// Close stops listening and probing and drops open connections.
func (b *Balancer) Close() error {
	if b.stop != nil {
		b.stop()
		<-b.done
	}
	if err := b.srv.Close(); err != nil {
		return fmt.Errorf("balancer: close: %w", err)
	}
	return nil
}
