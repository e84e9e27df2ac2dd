package chaos

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/acube/platform/tools/internal/stack"
)

// Deps locates what the services depend on.
type Deps struct {
	// DatabaseURL is the database every service keeps its schema in.
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

// Services runs the five services as child processes on free ports and
// kills and restarts them on demand.
type Services struct {
	bin   string
	env   []string
	addrs map[string]string
	mu    sync.Mutex
	procs map[string]*stack.Process
}

// StartServices starts every service from the binaries in bin, waits until
// all are ready, and returns them.
func StartServices(ctx context.Context, bin string, d Deps, out *stack.Output) (*Services, error) {
	s := &Services{bin: bin, addrs: map[string]string{}, procs: map[string]*stack.Process{}}
	for _, n := range stack.Services() {
		port, err := stack.FreePort()
		if err != nil {
			return nil, err
		}
		s.addrs[n] = stack.Addr(port)
	}
	s.env = append([]string{
		"DATABASE_URL=" + d.DatabaseURL,
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
		"EXPORT_DIR=" + filepath.Join(d.DataDir, "exports"),
		"LOG_LEVEL=warn",
	}, limitsEnv()...)
	for _, n := range stack.Services() {
		s.env = append(s.env, strings.ToUpper(n)+"_ADDR="+s.addrs[n])
	}
	for _, n := range stack.Services() {
		p, err := stack.Start(stack.Spec{Name: n, Bin: filepath.Join(bin, n), Env: s.env, Addr: s.addrs[n]}, out)
		if err != nil {
			s.Stop()
			return nil, err
		}
		s.procs[n] = p
	}
	// Services wait on each other's streams: await readiness once all run.
	for _, n := range stack.Services() {
		if err := s.procs[n].WaitReady(ctx); err != nil {
			s.Stop()
			return nil, err
		}
	}
	return s, nil
}

// URL is the base URL of a service.
func (s *Services) URL(name string) string { return "http://" + s.addrs[name] }

// Kill ends a service with SIGKILL.
func (s *Services) Kill(name string) error {
	s.mu.Lock()
	p, ok := s.procs[name]
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("no service %s", name)
	}
	p.Kill()
	return nil
}

// Respawn starts a killed service again and waits until it is ready.
func (s *Services) Respawn(ctx context.Context, name string) error {
	s.mu.Lock()
	p, ok := s.procs[name]
	if !ok {
		s.mu.Unlock()
		return fmt.Errorf("no service %s", name)
	}
	np, err := p.Respawn()
	if err == nil {
		s.procs[name] = np
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return np.WaitReady(ctx)
}

// Stop stops the services, gateway first.
func (s *Services) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	names := stack.Services()
	for i := len(names) - 1; i >= 0; i-- {
		if p, ok := s.procs[names[i]]; ok {
			if err := p.Stop(20 * time.Second); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// Bootstrap creates the first superadmin with the admin binary's bootstrap
// command, as an operator would, against the services' database.
func (s *Services) Bootstrap(ctx context.Context, email, password string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(s.bin, "admin"), "bootstrap", "--email", email, "--name", "Chaos")
	cmd.Env = append(cmd.Environ(), s.env...)
	cmd.Stdin = strings.NewReader(password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("bootstrap admin: %w\n%s", err, out)
	}
	return nil
}
