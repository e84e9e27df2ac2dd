// Package prodlike runs the production configuration on one machine: it
// renders the prod overlay of deploy/k8s with the Kustomize API and runs
// what it describes as local processes on loopback with free ports, under
// a directory of its own — a NATS JetStream cluster from the NATS chart's
// values, Redis with its Sentinels from the redis-ha values, PostgreSQL
// with the CloudNativePG Cluster's database, roles and bootstrap SQL, the
// Deployments' init containers (the migrate step) once, then two pods of
// every Deployment with the environment, volumes and probes of its pod
// template, cluster DNS names rewritten to the local addresses, and a
// readiness-aware balancer per Service standing in for kube-proxy. Mailpit
// stands in for the SMTP provider. `make prodlike` (tools/cmd/prodlike)
// runs it; `make chaos-prod` breaks it (docs/prodlike.md).
package prodlike

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/acube/platform/tools/internal/adminflow"
	"github.com/acube/platform/tools/internal/chaos"
	"github.com/acube/platform/tools/internal/stack"
)

// Config says what to run and where.
type Config struct {
	// Root is the repository root (it holds deploy/k8s).
	Root string
	// Overlay is the overlay rendered [prod].
	Overlay string
	// Bin holds the five services (make build) and, unless SMTP is set,
	// mailpit.
	Bin string
	// NATSServer is the nats-server program [Bin/nats-server].
	NATSServer string
	// Replicas is the number of pods of every Deployment [2].
	Replicas int
	// Dir holds every file of the run; empty makes a temporary directory,
	// removed by Close.
	Dir string
	// Log receives every process's output, one prefixed line at a time
	// [a file in Dir].
	Log io.Writer
	// Env adds variables to one Deployment's pods, after the manifests'
	// (a test harness's overrides, such as lifted rate limits).
	Env map[string][]string
	// SMTP, when set, is called with the TLS settings and the SMTP
	// credentials the mailer's Deployment asks for and returns the
	// address of an SMTP server that will take them; otherwise Mailpit
	// from Bin runs with them.
	SMTP func(tlsConfig *tls.Config, username, password string) (host string, port int, err error)
}

func (c *Config) setDefaults() {
	if c.Overlay == "" {
		c.Overlay = "prod"
	}
	if c.NATSServer == "" {
		c.NATSServer = filepath.Join(c.Bin, "nats-server")
	}
	if c.Replicas <= 0 {
		c.Replicas = 2
	}
}

// Validate reports a config that cannot run.
func (c *Config) Validate() error {
	if c.Root == "" || c.Bin == "" {
		return errors.New("prodlike: Root and Bin are required")
	}
	return nil
}

// Topology is the production configuration running on this machine.
type Topology struct {
	cfg       Config
	dir       string
	ownDir    bool
	out       *stack.Output
	logFile   *os.File
	manifests *Manifests
	secrets   *Secrets
	dns       *DNS
	ca        *authority
	ports     *ports

	// Postgres, Redis and NATS are the infrastructure.
	Postgres *Postgres
	Redis    *Redis
	NATS     *NATS
	// Deployments are the overlay's, by name.
	Deployments map[string]*Deployment
	// Mailpit reads the emails when Mailpit runs (Config.SMTP unset).
	Mailpit *chaos.Mailpit
	// MailpitURL is Mailpit's UI and API.
	MailpitURL string

	mailpit  *stack.Process
	smtpHost string
	smtpPort int
	closers  []func() error
}

// Up brings the topology up and returns once every pod of every
// Deployment is ready behind its Service. On error everything started is
// stopped again.
func Up(ctx context.Context, cfg Config) (_ *Topology, err error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	t := &Topology{cfg: cfg, dir: cfg.Dir, secrets: NewSecrets(), dns: NewDNS(), ports: newPorts(), Deployments: map[string]*Deployment{}}
	if t.dir == "" {
		if t.dir, err = os.MkdirTemp("", "acube-prodlike-"); err != nil {
			return nil, fmt.Errorf("prodlike: temporary directory: %w", err)
		}
		t.ownDir = true
	}
	defer func() {
		if err != nil {
			_ = t.Close()
		}
	}()
	logw := cfg.Log
	if logw == nil {
		if t.logFile, err = os.Create(filepath.Join(t.dir, "prodlike.log")); err != nil {
			return nil, fmt.Errorf("prodlike: log file: %w", err)
		}
		logw = t.logFile
	}
	t.out = stack.NewOutput(logw)
	if t.manifests, err = LoadManifests(cfg.Root, cfg.Overlay); err != nil {
		return nil, err
	}
	if t.ca, err = newAuthority(t.dir); err != nil {
		return nil, err
	}
	if err := t.startInfra(ctx); err != nil {
		return nil, err
	}
	if err := t.startMail(ctx); err != nil {
		return nil, err
	}
	if err := t.startServices(); err != nil {
		return nil, err
	}
	for _, d := range t.ordered() {
		if err := d.runInit(ctx); err != nil {
			return nil, err
		}
	}
	var pods []*Pod
	var deps []*Deployment
	for _, d := range t.ordered() {
		for range cfg.Replicas {
			p, err := d.startPod()
			if err != nil {
				return nil, err
			}
			pods, deps = append(pods, p), append(deps, d)
		}
	}
	for i, p := range pods {
		if err := deps[i].waitReady(ctx, p); err != nil {
			return nil, fmt.Errorf("prodlike: %w (the log: %s)", err, t.LogPath())
		}
	}
	return t, nil
}

// startInfra starts PostgreSQL, Redis and NATS, each under its own
// directory.
func (t *Topology) startInfra(ctx context.Context) error {
	var err error
	if t.Postgres, err = startPostgres(ctx, t.manifests.Postgres, t.secrets, t.ca, t.dns, t.ports.pick); err != nil {
		return err
	}
	t.closers = append(t.closers, t.Postgres.Close)
	redisDir := filepath.Join(t.dir, "redis")
	if err := os.MkdirAll(redisDir, 0o700); err != nil {
		return fmt.Errorf("redis directory: %w", err)
	}
	if t.Redis, err = startRedis(ctx, t.manifests.Redis, t.secrets, t.dns, redisDir, t.out, t.ports.pick); err != nil {
		return err
	}
	t.closers = append(t.closers, t.Redis.Close)
	auth, err := natsIdentities(t.manifests, t.secrets, t.ca)
	if err != nil {
		return err
	}
	if t.NATS, err = startNATS(ctx, t.manifests.NATS, t.cfg.NATSServer, auth, t.ca, t.dns, filepath.Join(t.dir, "nats"), t.out, t.ports.pick); err != nil {
		return err
	}
	t.closers = append(t.closers, t.NATS.Close)
	return nil
}

// smtpSecret is the Secret of the mailer's SMTP credentials.
const smtpSecret = "acube-smtp"

// startMail starts what takes the mailer's email: Config.SMTP's server,
// or Mailpit with STARTTLS required and SMTP AUTH against the credentials
// of the acube-smtp Secret, as the mailer's Deployment asks.
func (t *Topology) startMail(ctx context.Context) error {
	user, err := t.secrets.Get(smtpSecret, "username")
	if err != nil {
		return err
	}
	pass, err := t.secrets.Get(smtpSecret, "password")
	if err != nil {
		return err
	}
	if t.cfg.SMTP != nil {
		cert, err := tls.LoadX509KeyPair(t.ca.CertFile, t.ca.KeyFile)
		if err != nil {
			return fmt.Errorf("smtp tls: %w", err)
		}
		t.smtpHost, t.smtpPort, err = t.cfg.SMTP(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, user, pass)
		return err
	}
	smtpPort, err := t.ports.pick()
	if err != nil {
		return err
	}
	uiPort, err := t.ports.pick()
	if err != nil {
		return err
	}
	authFile := filepath.Join(t.dir, "smtp-auth")
	if err := os.WriteFile(authFile, []byte(user+":"+pass+"\n"), 0o600); err != nil {
		return fmt.Errorf("smtp auth file: %w", err)
	}
	mdir := filepath.Join(t.dir, "mailpit")
	if err := os.MkdirAll(mdir, 0o700); err != nil {
		return fmt.Errorf("mailpit directory: %w", err)
	}
	p, err := stack.Start(stack.Spec{Name: "mailpit", Bin: filepath.Join(t.cfg.Bin, "mailpit"), Args: []string{
		"--smtp", stack.Addr(smtpPort), "--listen", stack.Addr(uiPort), "--database", filepath.Join(mdir, "mailpit.db"),
		"--max", "0", "--quiet", "--smtp-tls-cert", t.ca.CertFile, "--smtp-tls-key", t.ca.KeyFile,
		"--smtp-require-starttls", "--smtp-auth-file", authFile,
	}}, t.out)
	if err != nil {
		return err
	}
	t.mailpit = p
	t.closers = append(t.closers, func() error { return p.Stop(5 * time.Second) })
	t.MailpitURL = "http://" + stack.Addr(uiPort)
	t.Mailpit = chaos.NewMailpit(t.MailpitURL)
	t.smtpHost, t.smtpPort = "127.0.0.1", smtpPort
	return waitUntil(ctx, "mailpit answering", func() bool {
		_, err := t.Mailpit.To(ctx, "nobody@example.org")
		return err == nil
	}, p.Done())
}

// startServices gives each Service of the overlay a probing balancer in
// front of the Deployment its selector picks, probing what that
// Deployment's readiness probe names, and makes the Service's cluster
// name resolve to it.
func (t *Topology) startServices() error {
	for _, svc := range t.manifests.Services {
		var dep *appsv1.Deployment
		sel := labels.SelectorFromSet(svc.Spec.Selector)
		for _, d := range t.manifests.Deployments {
			if len(svc.Spec.Selector) > 0 && sel.Matches(labels.Set(d.Spec.Template.Labels)) {
				dep = d
			}
		}
		if dep == nil {
			return fmt.Errorf("service %s selects no Deployment of the overlay", svc.Name)
		}
		if len(svc.Spec.Ports) != 1 {
			return fmt.Errorf("service %s: %d ports; the topology runs one per Service", svc.Name, len(svc.Spec.Ports))
		}
		c := dep.Spec.Template.Spec.Containers[0]
		target, err := containerPort(c, svc.Spec.Ports[0].TargetPort.String())
		if err != nil {
			return fmt.Errorf("service %s: %w", svc.Name, err)
		}
		probe, probePort := chaos.Probe{Path: "/readyz"}, target
		if rp := c.ReadinessProbe; rp != nil && rp.HTTPGet != nil {
			if probePort, err = containerPort(c, rp.HTTPGet.Port.String()); err != nil {
				return fmt.Errorf("deployment %s readiness probe: %w", dep.Name, err)
			}
			probe = chaos.Probe{Path: rp.HTTPGet.Path, Timeout: time.Duration(rp.TimeoutSeconds) * time.Second,
				FailureThreshold: int(rp.FailureThreshold), SuccessThreshold: int(rp.SuccessThreshold)}
		}
		lb, err := chaos.StartProbingBalancer("127.0.0.1:0", probe)
		if err != nil {
			return err
		}
		t.closers = append(t.closers, lb.Close)
		t.dns.Add(svc.Name+"."+svc.Namespace, int(svc.Spec.Ports[0].Port), lb.Addr())
		t.Deployments[dep.Name] = &Deployment{Name: dep.Name, top: t, spec: dep, lb: lb, servicePort: target,
			probePort: probePort, probePath: probe.Path}
	}
	for _, d := range t.manifests.Deployments {
		if _, ok := t.Deployments[d.Name]; !ok {
			t.Deployments[d.Name] = &Deployment{Name: d.Name, top: t, spec: d}
		}
	}
	return nil
}

// containerPort resolves a port by name or number against c's ports.
func containerPort(c corev1.Container, port string) (int, error) {
	if n, err := strconv.Atoi(port); err == nil {
		return n, nil
	}
	for _, p := range c.Ports {
		if p.Name == port {
			return int(p.ContainerPort), nil
		}
	}
	return 0, fmt.Errorf("container %s has no port named %q", c.Name, port)
}

// ordered lists the Deployments in the platform's start order (the
// gateway last), the others after them by name.
func (t *Topology) ordered() []*Deployment {
	var out []*Deployment
	for _, n := range stack.Services() {
		if d, ok := t.Deployments[n]; ok {
			out = append(out, d)
		}
	}
	var rest []string
	for n := range t.Deployments {
		if !slices.Contains(stack.Services(), n) {
			rest = append(rest, n)
		}
	}
	slices.Sort(rest)
	for _, n := range rest {
		out = append(out, t.Deployments[n])
	}
	return out
}

// URL is the base URL of a Service (its balancer), e.g. URL("gateway").
func (t *Topology) URL(service string) string {
	if d, ok := t.Deployments[service]; ok && d.lb != nil {
		return d.lb.URL()
	}
	return ""
}

// Dir is where every file of the run lives.
func (t *Topology) Dir() string { return t.dir }

// LogPath is the file the processes' output goes to ("" when Config.Log
// was given).
func (t *Topology) LogPath() string {
	if t.logFile == nil {
		return ""
	}
	return t.logFile.Name()
}

// Bootstrap creates the first superadmin as docs/operations.md says
// (`kubectl exec deploy/admin -- admin bootstrap`): the admin binary's
// bootstrap command, with the environment of an admin pod. It returns the
// TOTP secret the command enrolled (for chaos.Client.SetTOTP).
func (t *Topology) Bootstrap(ctx context.Context, email, password string) (string, error) {
	d, ok := t.Deployments["admin"]
	if !ok || len(d.Pods()) == 0 {
		return "", errors.New("prodlike: no admin pod to bootstrap from")
	}
	e, err := adminflow.Bootstrap(ctx, filepath.Join(t.cfg.Bin, "admin"), d.Pods()[0].Env, email, "", password)
	if err != nil {
		return "", err
	}
	return e.Secret, nil
}

// Close stops the pods (gateway first), then the balancers, Mailpit and
// the infrastructure, and removes the directory if Up made it.
func (t *Topology) Close() error {
	var errs []error
	ds := t.ordered()
	for i := len(ds) - 1; i >= 0; i-- {
		if err := ds[i].Stop(); err != nil {
			errs = append(errs, err)
		}
	}
	for i := len(t.closers) - 1; i >= 0; i-- {
		if err := t.closers[i](); err != nil {
			errs = append(errs, err)
		}
	}
	if t.logFile != nil {
		_ = t.logFile.Close()
	}
	if t.ownDir {
		if err := os.RemoveAll(t.dir); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", t.dir, err))
		}
	}
	return errors.Join(errs...)
}

// waitUntil polls ok every 100 ms until it holds, ctx ends or exited (a
// process's Done, may be nil) is closed.
func waitUntil(ctx context.Context, what string, ok func() bool, exited <-chan struct{}) error {
	for {
		if ok() {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-exited:
			return fmt.Errorf("waiting for %s: the process exited", what)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
