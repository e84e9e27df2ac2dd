package prodlike

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"
)

// tcpBalancer is kube-proxy for a TCP Service: it hands each connection to
// the next ready backend, round robin, and copies bytes both ways until
// either side closes. A backend is ready while its readiness probe (an
// HTTP URL, such as a NATS server's /healthz on its monitor port) passes;
// three failed probes in a row take it out. A connection is never retried
// on another backend, as kube-proxy does not: the client reconnects.
type tcpBalancer struct {
	ln   net.Listener
	stop context.CancelFunc
	wg   sync.WaitGroup

	mu       sync.Mutex
	backends []*tcpBackend
	next     int
	conns    map[net.Conn]struct{}
}

// tcpBackend is one backend and its probe's history.
type tcpBackend struct {
	addr, probe string
	ready       bool
	failures    int
}

// failureThreshold is how many failed probes in a row make a backend not
// ready.
const failureThreshold = 3

// startTCPBalancer listens on a free loopback port.
func startTCPBalancer() (*tcpBalancer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("tcp balancer: listen: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &tcpBalancer{ln: ln, stop: cancel, conns: map[net.Conn]struct{}{}}
	b.wg.Go(func() { b.probeLoop(ctx) })
	b.wg.Go(b.accept)
	return b, nil
}

// Addr is where clients connect.
func (b *tcpBalancer) Addr() string { return b.ln.Addr().String() }

// add registers a backend at addr whose readiness probe is probeURL.
func (b *tcpBalancer) add(addr, probeURL string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.backends = append(b.backends, &tcpBackend{addr: addr, probe: probeURL})
}

// Ready lists the backends in rotation.
func (b *tcpBalancer) Ready() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, be := range b.backends {
		if be.ready {
			out = append(out, be.addr)
		}
	}
	return out
}

func (b *tcpBalancer) pick() (string, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for range b.backends {
		be := b.backends[b.next%len(b.backends)]
		b.next++
		if be.ready {
			return be.addr, true
		}
	}
	return "", false
}

func (b *tcpBalancer) accept() {
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return // closed
		}
		b.wg.Go(func() { b.serve(c) })
	}
}

// serve proxies one connection.
func (b *tcpBalancer) serve(c net.Conn) {
	defer c.Close()
	addr, ok := b.pick()
	if !ok {
		return
	}
	up, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return
	}
	defer up.Close()
	b.mu.Lock()
	b.conns[c], b.conns[up] = struct{}{}, struct{}{}
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.conns, c)
		delete(b.conns, up)
		b.mu.Unlock()
	}()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
	<-done // either side closed: close both, as a dead backend resets its flows
}

// probeLoop probes every backend each second until ctx ends.
func (b *tcpBalancer) probeLoop(ctx context.Context) {
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		b.mu.Lock()
		bes := slices.Clone(b.backends)
		b.mu.Unlock()
		passed := make([]bool, len(bes))
		var wg sync.WaitGroup
		for i, be := range bes {
			wg.Go(func() {
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, be.probe, nil)
				if err != nil {
					return
				}
				resp, err := client.Do(req)
				if err != nil {
					return
				}
				resp.Body.Close()
				passed[i] = resp.StatusCode >= 200 && resp.StatusCode < 400
			})
		}
		wg.Wait()
		b.mu.Lock()
		for i, be := range bes {
			if passed[i] {
				be.ready, be.failures = true, 0
			} else if be.failures++; be.failures >= failureThreshold {
				be.ready = false
			}
		}
		b.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Close stops accepting, cuts every proxied connection and waits.
func (b *tcpBalancer) Close() error {
	b.stop()
	err := b.ln.Close()
	b.mu.Lock()
	for c := range b.conns {
		c.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
	return err
}
