package stack

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/acube/platform/libs/smtptest"
)

// SystemConfig says which platform to start: the one launcher behind
// `make run` (cmd/devstack), the end-to-end tests (tools/e2e) and the
// contract run (internal/contract), so the three start it the same way.
type SystemConfig struct {
	// Root is the repository root: the services are built from it and
	// the database's roles are read from it.
	Root string
	// Services are the ones to start (they start in Services order, the
	// gateway last); empty, all of them.
	Services []string
	// Bin is where the service binaries are.
	Bin string
	// Build compiles the services into Bin first; `make run` has them
	// built by make.
	Build bool
	// DataDir holds the run's files: the in-process NATS store, the admin
	// and booking data dirs, the manage-link secret. Empty, a temporary
	// directory removed at Close.
	DataDir string
	// DatabaseURL is a superuser's URL. Its database is laid out as
	// production's (PrepareDatabase), created when missing, and kept at
	// Close, unless FreshDatabase.
	DatabaseURL string
	// FreshDatabase makes a scratch database for the run on DatabaseURL's
	// server instead (acube_<Name>_<random>), dropped at Close.
	FreshDatabase bool
	// Name, when set, names the run: its fresh database and its Redis
	// keys (REDIS_KEY_PREFIX=<Name>-<unique>:), so runs sharing a Redis
	// never share a rate-limit bucket. Empty, the services' own prefix.
	Name string
	// NATSURL is an external NATS server; empty, one runs in process with
	// JetStream on NATSPort (0: a free port), storing under DataDir/nats.
	NATSURL  string
	NATSPort int
	// ExternalSMTP leaves the mailer's SMTP_HOST and SMTP_PORT to Env or
	// the launcher's own environment (Mailpit, a real server). Otherwise
	// an in-process sink (System.Sink) shaped by SMTP takes the mail,
	// e.g. with a Rcpt that refuses one address.
	ExternalSMTP bool
	SMTP         smtptest.Options
	// Listen says where service name serves (addr) and its probes and
	// metrics (probe; the gateway's internal port). Nil, free loopback
	// ports, so runs never collide.
	Listen func(name string) (addr, probe string)
	// Env is added to every service's environment last, so it overrides
	// the launcher's (LOG_LEVEL, rate-limit tiers, retry budgets).
	Env []string
	// Output receives the services' lines, prefixed with their names;
	// nil discards them.
	Output io.Writer
	// ReadyWithin bounds the wait for every service's /readyz (2 minutes
	// when zero); StopWithin is each service's grace on SIGTERM at Close
	// (20 seconds when zero).
	ReadyWithin, StopWithin time.Duration
}

func (c *SystemConfig) setDefaults() {
	if len(c.Services) == 0 {
		c.Services = Services()
	}
	if c.Output == nil {
		c.Output = io.Discard
	}
	c.ReadyWithin = cmp.Or(c.ReadyWithin, 2*time.Minute)
	c.StopWithin = cmp.Or(c.StopWithin, 20*time.Second)
}

// Validate reports what is missing or unknown.
func (c SystemConfig) Validate() error {
	var errs []error
	if c.Root == "" {
		errs = append(errs, errors.New("no repository root"))
	}
	if c.Bin == "" {
		errs = append(errs, errors.New("no bin directory"))
	}
	if c.DatabaseURL == "" {
		errs = append(errs, errors.New("no database url"))
	}
	for _, n := range c.Services {
		if !slices.Contains(Services(), n) {
			errs = append(errs, fmt.Errorf("unknown service %q", n))
		}
	}
	return errors.Join(errs...)
}

// System is the platform running: the services as child processes and
// whatever the launcher started for them.
type System struct {
	// Gateway is the gateway's base URL; "" when it was not started.
	Gateway string
	// Bin is where the service binaries are.
	Bin string
	// NATSURL is the NATS server the services use.
	NATSURL string
	// NATS is the in-process server; nil with SystemConfig.NATSURL.
	NATS *NATS
	// Sink is the in-process SMTP sink; nil with ExternalSMTP.
	Sink *smtptest.Sink
	// Procs are the running services by name. Restart replaces an
	// entry; so may a caller that restarts a service its own way, and
	// Close stops whatever is there.
	Procs map[string]*Process

	cfg     SystemConfig
	out     *Output
	env     []string          // every service's
	dbURLs  map[string]string // service → DATABASE_URL, its app role
	closers []func() error    // run in reverse by Close
}

// StartSystem starts the platform as production runs it: the database
// laid out from cluster.yaml's roles and bootstrap.sql, each service's
// migrate step as its schema's owner, NATS with JetStream, a mail server,
// then the services as their app roles, the gateway last, and waits until
// every one is ready. On error, whatever started is stopped again. The
// processes outlive ctx, which bounds only the start; Close stops them.
func StartSystem(ctx context.Context, cfg SystemConfig) (_ *System, err error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("start system: %w", err)
	}
	s := &System{Bin: cfg.Bin, Procs: map[string]*Process{}, cfg: cfg, out: NewOutput(cfg.Output), dbURLs: map[string]string{}}
	defer func() {
		if err != nil {
			_ = s.Close()
		}
	}()
	if err := s.prepare(ctx); err != nil {
		return nil, err
	}
	if err := s.startServers(); err != nil {
		return nil, err
	}
	if err := s.startServices(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// prepare makes the data dir, builds the binaries when asked and lays out
// and migrates the database.
func (s *System) prepare(ctx context.Context) error {
	cfg := &s.cfg
	if cfg.DataDir == "" {
		dir, err := os.MkdirTemp("", "acube-run-")
		if err != nil {
			return fmt.Errorf("create data dir: %w", err)
		}
		cfg.DataDir = dir
		s.closers = append(s.closers, func() error { return os.RemoveAll(dir) })
	} else if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	if cfg.Build {
		if err := Build(ctx, cfg.Root, cfg.Bin, cfg.Services...); err != nil {
			return err
		}
	}
	dbURL := cfg.DatabaseURL
	if cfg.FreshDatabase {
		u, drop, err := ScratchDatabase(ctx, cfg.DatabaseURL, "acube_"+cmp.Or(cfg.Name, "run"))
		if err != nil {
			return err
		}
		s.closers = append(s.closers, drop)
		dbURL = u
	}
	db, err := PrepareDatabase(ctx, DatabaseConfig{Root: cfg.Root, URL: dbURL})
	if err != nil {
		return fmt.Errorf("lay out the database (is PostgreSQL running?): %w", err)
	}
	if err := Migrate(ctx, cfg.Bin, db, s.out, cfg.Services...); err != nil {
		return err
	}
	for _, n := range DBServices() {
		s.dbURLs[n] = db.AppURL(n)
	}
	return nil
}

// startServers starts NATS and the SMTP sink unless external ones are
// named.
func (s *System) startServers() error {
	s.NATSURL = s.cfg.NATSURL
	if s.NATSURL == "" {
		ns, err := StartNATS(filepath.Join(s.cfg.DataDir, "nats"), s.cfg.NATSPort)
		if err != nil {
			return err
		}
		s.closers = append(s.closers, func() error { ns.Shutdown(); return nil })
		s.NATS, s.NATSURL = ns, ns.URL()
	}
	if !s.cfg.ExternalSMTP {
		sink, err := smtptest.Start(s.cfg.SMTP)
		if err != nil {
			return fmt.Errorf("start smtp sink: %w", err)
		}
		s.closers = append(s.closers, sink.Close)
		s.Sink = sink
	}
	return nil
}

// startServices gives every service its addresses and the shared
// environment, starts the chosen ones gateway last and awaits readiness
// once all run: services wait on each other's streams.
func (s *System) startServices(ctx context.Context) error {
	addrs, probes, err := listenAddrs(s.cfg.Listen)
	if err != nil {
		return err
	}
	links, err := LinkSecretEnv(filepath.Join(s.cfg.DataDir, "booking"))
	if err != nil {
		return err
	}
	s.env = sharedEnv(s.cfg, s.NATSURL, s.Sink, addrs, probes, links)
	for _, n := range Services() {
		if !slices.Contains(s.cfg.Services, n) {
			continue
		}
		p, err := Start(Spec{Name: n, Bin: filepath.Join(s.cfg.Bin, n), Env: s.EnvOf(n), Addr: addrs[n], ProbeAddr: probes[n]}, s.out)
		if err != nil {
			return err
		}
		s.Procs[n] = p
	}
	if _, ok := s.Procs["gateway"]; ok {
		s.Gateway = "http://" + addrs["gateway"]
	}
	rctx, cancel := context.WithTimeout(ctx, s.cfg.ReadyWithin)
	defer cancel()
	for _, n := range Services() {
		if p, ok := s.Procs[n]; ok {
			if err := p.WaitReady(rctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// listenAddrs gives every service (started or not: the others' URLs name
// it) where it serves and where its probes are.
func listenAddrs(listen func(string) (string, string)) (addrs, probes map[string]string, err error) {
	addrs, probes = map[string]string{}, map[string]string{}
	for _, n := range Services() {
		if listen != nil {
			addrs[n], probes[n] = listen(n)
			continue
		}
		port, err := FreePort()
		if err != nil {
			return nil, nil, err
		}
		addrs[n], probes[n] = Addr(port), Addr(port)
		if n == "gateway" { // its probes are on an internal port of their own
			if port, err = FreePort(); err != nil {
				return nil, nil, err
			}
			probes[n] = Addr(port)
		}
	}
	return addrs, probes, nil
}

// sharedEnv is the environment every service of the run gets: where
// NATS, the mail server and the other services are, the data dirs, the
// run's Redis keys, the shared manage-link secret, every service's listen
// addresses, and cfg.Env last.
func sharedEnv(cfg SystemConfig, natsURL string, sink *smtptest.Sink, addrs, probes map[string]string, links []string) []string {
	env := []string{
		"NATS_URL=" + natsURL,
		"BOOKING_URL=http://" + addrs["booking"],
		"ADMIN_URL=http://" + addrs["admin"],
		"EXPORTER_URL=http://" + addrs["exporter"],
		"ADMIN_DATA_DIR=" + filepath.Join(cfg.DataDir, "admin"),
		"BOOKING_DATA_DIR=" + filepath.Join(cfg.DataDir, "booking"),
	}
	if sink != nil {
		env = append(env, "SMTP_HOST="+sink.Host(), "SMTP_PORT="+strconv.Itoa(sink.Port()))
	}
	if cfg.Name != "" {
		env = append(env, "REDIS_KEY_PREFIX="+cfg.Name+"-"+strconv.FormatInt(time.Now().UnixNano(), 36)+":")
	}
	env = append(env, links...)
	for _, n := range Services() {
		env = append(env, ListenEnv(n, addrs[n], probes[n])...)
	}
	return append(env, cfg.Env...)
}

// EnvOf is service name's environment: the shared one and, for a service
// with a schema, its database login, its app role. A caller running a
// service's binary itself (its admin bootstrap, say) starts from it.
func (s *System) EnvOf(name string) []string {
	env := slices.Clone(s.env)
	if u, ok := s.dbURLs[name]; ok {
		env = append(env, "DATABASE_URL="+u)
	}
	return env
}

// Restart stops service name and starts it again on the same addresses
// with env added to EnvOf, as a deploy of a new configuration would, and
// waits until it is ready. The new process replaces Procs[name].
func (s *System) Restart(ctx context.Context, name string, env ...string) (*Process, error) {
	old, ok := s.Procs[name]
	if !ok {
		return nil, fmt.Errorf("restart %s: not running", name)
	}
	if err := old.Stop(s.cfg.StopWithin); err != nil {
		return nil, fmt.Errorf("restart %s: %w", name, err)
	}
	p, err := Start(Spec{Name: name, Bin: filepath.Join(s.cfg.Bin, name), Env: append(s.EnvOf(name), env...),
		Addr: old.Addr, ProbeAddr: old.ProbeAddr}, s.out)
	if err != nil {
		return nil, err
	}
	s.Procs[name] = p
	if err := p.WaitReady(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

// Close stops the services, gateway first, then the mail sink, NATS, the
// fresh database and the temporary data dir, whatever got started, and
// reports what did not stop cleanly.
func (s *System) Close() error {
	var errs []error
	for _, n := range slices.Backward(Services()) {
		if p, ok := s.Procs[n]; ok {
			if err := p.Stop(s.cfg.StopWithin); err != nil {
				errs = append(errs, fmt.Errorf("stop %s: %w", n, err))
			}
		}
	}
	for _, c := range slices.Backward(s.closers) {
		errs = append(errs, c())
	}
	s.closers = nil
	return errors.Join(errs...)
}
