package chaos

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/acube/platform/tools/internal/adminflow"
	"github.com/acube/platform/tools/internal/stack"
)

// Deps locates what the services depend on.
type Deps struct {
	// DatabaseURL is the database every service keeps its schema in, as a
	// superuser: StartServices lays it out as production's, runs each
	// service's migrate step as its schema's owner and starts the services
	// as their app roles.
	DatabaseURL string
	// NATSURL is the JetStream server.
	NATSURL string
	// RedisURL is the gateway's rate-limit store.
	RedisURL string
	// RedisPrefix keeps the run's counters apart when Redis is shared.
	RedisPrefix string
	// SMTPHost and SMTPPort are the mail sink.
	SMTPHost string
	SMTPPort int
	// DataDir holds keys, images and export files.
	DataDir string
	// Env adds variables to one service's environment, by service name,
	// e.g. a shorter handler deadline for the mailer in a short run.
	Env map[string][]string
}

// limitsEnv lifts every rate-limit tier far above the load, so the gateway
// refuses nothing a run sends (the limiter still runs, against Redis).
func limitsEnv() []string {
	var env []string
	for _, tier := range []string{"PUBLIC", "ADMIN", "AUTH", "EXPORT", "UPLOAD"} {
		env = append(env, "RATELIMIT_"+tier+"=100000/minute,1000000/hour")
	}
	return env
}

// balanced are the services others reach by URL (the gateway's upstreams,
// and admin's JWKS for booking and the exporter): each gets a Balancer in
// front, so a second replica can join it.
var balanced = []string{"booking", "admin", "exporter"}

// Services runs the five services as child processes on free ports and
// kills, restarts and scales them on demand. Booking, admin and the
// exporter sit behind a Balancer each, which the others are pointed at.
type Services struct {
	bin string
	env []string
	// extra is Deps.Env: variables of one service only.
	extra map[string][]string
	// dbURLs are the services' DATABASE_URLs: their app roles.
	dbURLs map[string]string
	out    *stack.Output
	// addrs are where a service is reached: its balancer, or for the
	// gateway and the mailer their first replica.
	addrs map[string]string
	lbs   map[string]*Balancer

	mu    sync.Mutex
	procs map[string][]*stack.Process // running replicas; [0] is the first
}

// StartServices starts every service from the binaries in bin, waits until
// all are ready, and returns them.
func StartServices(ctx context.Context, bin string, d Deps, out *stack.Output) (*Services, error) {
	s := &Services{bin: bin, out: out, extra: d.Env, dbURLs: map[string]string{}, addrs: map[string]string{}, lbs: map[string]*Balancer{}, procs: map[string][]*stack.Process{}}
	if err := s.prepareDatabase(ctx, d.DatabaseURL); err != nil {
		return nil, err
	}
	first := map[string]string{}
	for _, n := range stack.Services() {
		port, err := stack.FreePort()
		if err != nil {
			return nil, err
		}
		first[n] = stack.Addr(port)
		s.addrs[n] = first[n]
	}
	for _, n := range balanced {
		port, err := stack.FreePort()
		if err != nil {
			s.closeBalancers()
			return nil, err
		}
		lb, err := StartBalancer(stack.Addr(port), first[n])
		if err != nil {
			s.closeBalancers()
			return nil, err
		}
		s.lbs[n], s.addrs[n] = lb, stack.Addr(port)
	}
	// Booking verifies the manage links the mailer mints: one secret.
	links, err := stack.LinkSecretEnv(filepath.Join(d.DataDir, "booking"))
	if err != nil {
		s.closeBalancers()
		return nil, err
	}
	s.env = append([]string{
		"NATS_URL=" + d.NATSURL,
		"REDIS_URL=" + d.RedisURL,
		"REDIS_KEY_PREFIX=" + d.RedisPrefix,
		"SMTP_HOST=" + d.SMTPHost,
		"SMTP_PORT=" + strconv.Itoa(d.SMTPPort),
		"BOOKING_URL=http://" + s.addrs["booking"],
		"ADMIN_URL=http://" + s.addrs["admin"],
		"EXPORTER_URL=http://" + s.addrs["exporter"],
		// The exporter does not derive its JWKS URL from ADMIN_URL as
		// booking does; without this it asks 127.0.0.1:8102 (docs/chaos.md).
		"ADMIN_JWKS_URL=http://" + s.addrs["admin"] + "/api/admin/auth/jwks.json",
		"PUBLIC_BASE_URL=http://" + s.addrs["gateway"],
		"ADMIN_DATA_DIR=" + filepath.Join(d.DataDir, "admin"),
		"BOOKING_DATA_DIR=" + filepath.Join(d.DataDir, "booking"),
		"LOG_LEVEL=warn",
	}, limitsEnv()...)
	s.env = append(s.env, links...)
	for _, n := range stack.Services() {
		s.env = append(s.env, strings.ToUpper(n)+"_ADDR="+first[n])
	}
	for _, n := range stack.Services() {
		p, err := s.start(n, first[n])
		if err != nil {
			_ = s.Stop()
			return nil, err
		}
		s.procs[n] = []*stack.Process{p}
	}
	// Services wait on each other's streams: await readiness once all run.
	if err := s.WaitReady(ctx); err != nil {
		_ = s.Stop()
		return nil, err
	}
	return s, nil
}

// prepareDatabase lays out the database as production's and migrates
// every service's schema as its owner, once, as the init containers do.
func (s *Services) prepareDatabase(ctx context.Context, superURL string) error {
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	root, err := stack.Root(wd)
	if err != nil {
		return err
	}
	db, err := stack.PrepareDatabase(ctx, stack.DatabaseConfig{Root: root, URL: superURL})
	if err != nil {
		return err
	}
	if err := stack.Migrate(ctx, s.bin, db, s.out, stack.DBServices()...); err != nil {
		return err
	}
	for _, n := range stack.DBServices() {
		s.dbURLs[n] = db.AppURL(n)
	}
	return nil
}

// envOf is service n's environment: the shared one, its database login
// (its app role) and its own variables.
func (s *Services) envOf(n string) []string {
	env := slices.Clone(s.env)
	if u, ok := s.dbURLs[n]; ok {
		env = append(env, "DATABASE_URL="+u)
	}
	return append(env, s.extra[n]...)
}

// start runs one replica of service n serving on addr; the gateway's
// probes and metrics get a free port of their own (GATEWAY_INTERNAL_ADDR).
func (s *Services) start(n, addr string) (*stack.Process, error) {
	probe := addr
	if stack.DefaultProbeAddr(n) != stack.DefaultAddr(n) {
		port, err := stack.FreePort()
		if err != nil {
			return nil, err
		}
		probe = stack.Addr(port)
	}
	env := append(s.envOf(n), stack.ListenEnv(n, addr, probe)...)
	return stack.Start(stack.Spec{Name: n, Bin: filepath.Join(s.bin, n), Env: env, Addr: addr, ProbeAddr: probe}, s.out)
}

// URL is the base URL a service is reached at: its balancer's for
// booking, admin and the exporter.
func (s *Services) URL(name string) string { return "http://" + s.addrs[name] }

// ReplicaURL is the base URL of one replica's probes and metrics (0 is
// the first), for what must be read per process, such as /metrics.
func (s *Services) ReplicaURL(name string, i int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i >= len(s.procs[name]) {
		return ""
	}
	return "http://" + s.procs[name][i].ProbeAddr
}

// Kill ends every replica of a service with SIGKILL.
func (s *Services) Kill(name string) error {
	s.mu.Lock()
	ps, ok := s.procs[name]
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("no service %s", name)
	}
	for _, p := range ps {
		p.Kill()
	}
	return nil
}

// Respawn starts every exited replica of a service again and waits until
// they are ready.
func (s *Services) Respawn(ctx context.Context, name string) error {
	s.mu.Lock()
	ps, ok := s.procs[name]
	if !ok {
		s.mu.Unlock()
		return fmt.Errorf("no service %s", name)
	}
	var started []*stack.Process
	for i, p := range ps {
		select {
		case <-p.Done():
		default:
			continue
		}
		np, err := p.Respawn()
		if err != nil {
			s.mu.Unlock()
			return err
		}
		ps[i] = np
		started = append(started, np)
	}
	s.mu.Unlock()
	for _, p := range started {
		if err := p.WaitReady(ctx); err != nil {
			return err
		}
	}
	return nil
}

// StartAll starts every exited replica of every service again, in start
// order, and waits until all are ready.
func (s *Services) StartAll(ctx context.Context) error {
	for _, n := range stack.Services() {
		s.mu.Lock()
		for i, p := range s.procs[n] {
			select {
			case <-p.Done():
			default:
				continue
			}
			np, err := p.Respawn()
			if err != nil {
				s.mu.Unlock()
				return err
			}
			s.procs[n][i] = np
		}
		s.mu.Unlock()
	}
	return s.WaitReady(ctx)
}

// WaitReady waits until every replica of every service answers /readyz.
func (s *Services) WaitReady(ctx context.Context) error {
	for _, n := range stack.Services() {
		s.mu.Lock()
		ps := slices.Clone(s.procs[n])
		s.mu.Unlock()
		for _, p := range ps {
			if err := p.WaitReady(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// Scale runs n replicas of a service. New replicas join the balancer once
// ready; replicas taken away leave it first and then get SIGTERM, as a
// rolling scale-in does. An error names a replica that did not start or
// did not stop cleanly.
func (s *Services) Scale(ctx context.Context, name string, n int) error {
	if n < 1 {
		return fmt.Errorf("scale %s to %d: at least one replica", name, n)
	}
	s.mu.Lock()
	have := len(s.procs[name])
	s.mu.Unlock()
	if have == 0 {
		return fmt.Errorf("no service %s", name)
	}
	lb := s.lbs[name]
	for range max(0, n-have) {
		port, err := stack.FreePort()
		if err != nil {
			return err
		}
		p, err := s.start(name, stack.Addr(port))
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.procs[name] = append(s.procs[name], p)
		s.mu.Unlock()
		if err := p.WaitReady(ctx); err != nil {
			return fmt.Errorf("scale %s up: %w", name, err)
		}
		if lb != nil {
			lb.Add(p.Addr)
		}
	}
	var errs []error
	for range max(0, have-n) {
		s.mu.Lock()
		ps := s.procs[name]
		p := ps[len(ps)-1]
		s.procs[name] = ps[:len(ps)-1]
		s.mu.Unlock()
		if lb != nil {
			lb.Remove(p.Addr)
		}
		if err := p.Stop(20 * time.Second); err != nil {
			errs = append(errs, fmt.Errorf("scale %s down: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// Stop stops every replica of the services, gateway first, with SIGTERM.
// They can be started again with StartAll; the balancers keep running.
func (s *Services) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	names := stack.Services()
	for i := len(names) - 1; i >= 0; i-- {
		for _, p := range s.procs[names[i]] {
			if err := p.Stop(20 * time.Second); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// Close stops the services and their balancers.
func (s *Services) Close() error {
	err := s.Stop()
	s.closeBalancers()
	return err
}

func (s *Services) closeBalancers() {
	for _, lb := range s.lbs {
		_ = lb.Close()
	}
}

// Bootstrap creates the first superadmin with the admin binary's bootstrap
// command, as an operator would, against the services' database, and
// returns the TOTP secret it enrolled (for Client.SetTOTP). The password
// must pass the service's rules: not containing the email's local part or
// the name ("Chaos"); adminflow.RandomPassword does.
func (s *Services) Bootstrap(ctx context.Context, email, password string) (string, error) {
	e, err := adminflow.Bootstrap(ctx, filepath.Join(s.bin, "admin"), s.envOf("admin"), email, "Chaos", password)
	if err != nil {
		return "", err
	}
	return e.Secret, nil
}
