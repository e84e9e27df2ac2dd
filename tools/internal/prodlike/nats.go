package prodlike

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/acube/platform/tools/internal/stack"
)

// natsClientPort is the NATS Service's client port.
const natsClientPort = 4222

// NATS is the NATS chart run locally: one nats-server process per
// cluster replica with the chart's server settings (pod names as server
// names, routes to every pod, no_advertise, lame duck timings) and the
// values' JetStream limits, TLS to clients and on the routes, the merge
// block (the accounts, users and permissions) with the users' public keys
// in the servers' environment (natsIdentities), and a TCP balancer standing in for the
// nats Service, which sends clients to the servers whose readiness probe
// passes (the chart's /healthz?js-server-only=true).
type NATS struct {
	bin string
	out *stack.Output
	lb  *tcpBalancer

	mu    sync.Mutex
	nodes []*natsNode
}

// natsNode is one server.
type natsNode struct {
	name                     string
	client, cluster, monitor int
	conf                     string
	proc                     *stack.Process
}

// startNATS writes each server's config under dir, starts the servers
// from bin and waits until the cluster is healthy (every server's
// /healthz passes: JetStream current with its meta leader).
func startNATS(ctx context.Context, v NATSValues, bin string, auth natsAuth, ca *authority, dns *DNS, dir string, out *stack.Output, pick func() (int, error)) (*NATS, error) {
	js := v.Config.JetStream
	if !js.Enabled || !js.FileStore.Enabled {
		return nil, errors.New("nats values: JetStream with a file store is what the platform needs")
	}
	n := max(1, v.Config.Cluster.Replicas)
	if !v.Config.Cluster.Enabled {
		n = 1
	}
	fileStore, err := quantity(js.FileStore.MaxSize)
	if err != nil {
		return nil, fmt.Errorf("nats values: fileStore.maxSize: %w", err)
	}
	memStore := int64(0)
	if js.MemoryStore.Enabled {
		if memStore, err = quantity(js.MemoryStore.MaxSize); err != nil {
			return nil, fmt.Errorf("nats values: memoryStore.maxSize: %w", err)
		}
	}
	s := &NATS{bin: bin, out: out}
	for i := range n {
		node := &natsNode{name: fmt.Sprintf("%s-%d", natsRelease, i)}
		for _, p := range []*int{&node.client, &node.cluster, &node.monitor} {
			if *p, err = pick(); err != nil {
				return nil, err
			}
		}
		s.nodes = append(s.nodes, node)
	}
	scheme := "nats"
	if auth.ClusterTLS {
		scheme = "tls"
	}
	var routes []string
	for _, node := range s.nodes {
		routes = append(routes, scheme+"://"+stack.Addr(node.cluster))
	}
	tlsBlock := func(indent string) []string {
		return []string{indent + "tls {", indent + "  cert_file: " + strconv.Quote(ca.CertFile),
			indent + "  key_file: " + strconv.Quote(ca.KeyFile), indent + "  ca_file: " + strconv.Quote(ca.CAFile), indent + "}"}
	}
	for _, node := range s.nodes {
		store := filepath.Join(dir, node.name)
		if err := os.MkdirAll(store, 0o700); err != nil {
			return nil, fmt.Errorf("nats store: %w", err)
		}
		lines := []string{
			"server_name: " + node.name,
			"host: 127.0.0.1",
			"port: " + strconv.Itoa(node.client),
			"http: " + stack.Addr(node.monitor),
			"lame_duck_grace_period: 10s",
			"lame_duck_duration: 30s",
			"jetstream {",
			"  store_dir: " + strconv.Quote(store),
			"  max_file_store: " + strconv.FormatInt(fileStore, 10),
			"  max_memory_store: " + strconv.FormatInt(memStore, 10),
			"}",
		}
		if n > 1 {
			lines = append(lines, "cluster {",
				"  name: "+natsRelease,
				"  host: 127.0.0.1",
				"  port: "+strconv.Itoa(node.cluster),
				"  no_advertise: true",
				"  routes: ["+strings.Join(routes, ", ")+"]")
			if auth.ClusterTLS {
				lines = append(lines, tlsBlock("  ")...)
			}
			lines = append(lines, "}")
		}
		if auth.ClientTLS {
			lines = append(lines, tlsBlock("")...)
		}
		if auth.Config != "" {
			lines = append(lines, auth.Config)
		}
		node.conf = filepath.Join(dir, node.name+".conf")
		if err := os.WriteFile(node.conf, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("nats config: %w", err)
		}
		dns.Add(node.name+"."+natsRelease+"-headless."+infraNamespace, natsClientPort, stack.Addr(node.client))
	}
	if s.lb, err = startTCPBalancer(); err != nil {
		return nil, err
	}
	for _, node := range s.nodes {
		s.lb.add(stack.Addr(node.client), "http://"+stack.Addr(node.monitor)+"/healthz?js-server-only=true")
		p, err := stack.Start(stack.Spec{Name: node.name, Bin: bin, Args: []string{"-c", node.conf}, Env: auth.Env}, out)
		if err != nil {
			_ = s.Close()
			return nil, err
		}
		node.proc = p
	}
	dns.Add(natsRelease+"."+infraNamespace, natsClientPort, s.lb.Addr())
	for i := range s.nodes {
		if err := s.waitHealthy(ctx, i); err != nil {
			_ = s.Close()
			return nil, err
		}
	}
	return s, nil
}

// quantity reads a Kubernetes quantity ("16Gi") as bytes.
func quantity(s string) (int64, error) {
	q, err := resource.ParseQuantity(s)
	if err != nil {
		return 0, fmt.Errorf("%q: %w", s, err)
	}
	return q.Value(), nil
}

// waitHealthy waits until server i's /healthz passes.
func (s *NATS) waitHealthy(ctx context.Context, i int) error {
	s.mu.Lock()
	node := s.nodes[i]
	s.mu.Unlock()
	client := &http.Client{Timeout: time.Second}
	url := "http://" + stack.Addr(node.monitor) + "/healthz"
	return waitUntil(ctx, node.name+" healthy", func() bool {
		resp, err := client.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, node.proc.Done())
}

// URL is a client URL of the nats Service (the balancer).
func (s *NATS) URL() string { return "nats://" + s.lb.Addr() }

// Nodes is the number of servers.
func (s *NATS) Nodes() int { return len(s.nodes) }

// Kill SIGKILLs server i.
func (s *NATS) Kill(i int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i < 0 || i >= len(s.nodes) {
		return fmt.Errorf("nats: no server %d", i)
	}
	s.nodes[i].proc.Kill()
	return nil
}

// Restart starts server i again on its ports and store, as its pod comes
// back, and waits until it is healthy (caught up with the cluster).
func (s *NATS) Restart(ctx context.Context, i int) error {
	s.mu.Lock()
	p, err := s.nodes[i].proc.Respawn()
	if err == nil {
		s.nodes[i].proc = p
	}
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("nats: %w", err)
	}
	return s.waitHealthy(ctx, i)
}

// Processes lists the servers with their client, cluster and monitor
// ports, and the Service's balancer.
func (s *NATS) Processes() []ProcessInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []ProcessInfo{{Name: "nats (Service)", Addrs: []string{s.lb.Addr()}, Role: "balancer over ready servers"}}
	for _, n := range s.nodes {
		out = append(out, ProcessInfo{Name: n.name, Pid: n.proc.Pid(),
			Addrs: []string{stack.Addr(n.client), stack.Addr(n.cluster), stack.Addr(n.monitor)}, Role: "client, cluster, monitor"})
	}
	return out
}

// Close stops the servers (SIGTERM) and the balancer.
func (s *NATS) Close() error {
	s.mu.Lock()
	nodes := s.nodes
	s.mu.Unlock()
	var errs []error
	for _, n := range nodes {
		if n.proc != nil {
			if err := n.proc.Stop(10 * time.Second); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if s.lb != nil {
		errs = append(errs, s.lb.Close())
	}
	return errors.Join(errs...)
}
