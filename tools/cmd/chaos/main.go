// Command chaos is `make chaos`: it starts a platform of its own — its own
// PostgreSQL cluster, redis-server, in-process NATS, Mailpit behind an
// SMTP fault proxy and the five services, all on free loopback ports under
// a temporary directory — drives a mixed load through the gateway while it
// kills each service in turn, stops NATS, kills Redis, crashes PostgreSQL,
// slows SMTP, takes DEADLETTER away, runs two replicas, writes a poison
// outbox row and restarts everything with NATS down, then checks that
// nothing accepted was lost, duplicated or misordered and prints one table
// (docs/chaos.md). It never touches the shared PostgreSQL, Redis or a
// running `make run`.
//
// With -prod (`make chaos-prod`) it runs the production topology instead
// (tools/internal/prodlike: the prod overlay's processes, two pods of
// every Deployment) and plays its faults: a NATS node killed, a Redis
// failover, a PostgreSQL restart, one pod of each service killed, a
// rolling restart of each.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/acube/platform/libs/postgres"
	"github.com/acube/platform/tools/internal/adminflow"
	"github.com/acube/platform/tools/internal/chaos"
	"github.com/acube/platform/tools/internal/prodlike"
	"github.com/acube/platform/tools/internal/stack"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	bin       string
	rate      float64
	requests  int
	natsDown  time.Duration
	redisDown time.Duration
	pgDown    time.Duration
	killDown  time.Duration
	smtpDelay time.Duration
	slowSMTP  time.Duration
	dlDown    time.Duration
	replicas  time.Duration
	timeout   time.Duration
	only      string
	keep      bool
	prod      bool
	nodeDown  time.Duration
}

func parse(args []string, stdout io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.StringVar(&o.bin, "bin", "bin", "directory holding the five services and mailpit (make build)")
	fs.Float64Var(&o.rate, "rate", 20, "requests per second of the load")
	fs.IntVar(&o.requests, "requests", 400, "requests per scenario at least (more when the fault lasts longer)")
	fs.DurationVar(&o.natsDown, "nats-down", 30*time.Second, "how long NATS stays down")
	fs.DurationVar(&o.redisDown, "redis-down", 15*time.Second, "how long Redis stays down")
	fs.DurationVar(&o.pgDown, "postgres-down", 3*time.Second, "how long PostgreSQL stays down after its crash")
	fs.DurationVar(&o.killDown, "kill-down", 2*time.Second, "how long a killed service stays down")
	fs.DurationVar(&o.smtpDelay, "smtp-delay", 35*time.Second, "how long each SMTP command waits in slow-smtp: past the mailer's handler deadline (its consumers' 30 s AckWait), below its SMTP_TIMEOUT (chaos.MailerEnv)")
	fs.DurationVar(&o.slowSMTP, "slow-smtp", 30*time.Second, "how long the SMTP side stays slow")
	fs.DurationVar(&o.dlDown, "deadletter-down", 30*time.Second, "how long DEADLETTER captures nothing")
	fs.DurationVar(&o.replicas, "two-relays", 30*time.Second, "how long booking, admin and the mailer run two replicas each")
	fs.DurationVar(&o.timeout, "timeout", 25*time.Minute, "bound on the whole run")
	fs.StringVar(&o.only, "only", "", "comma-separated scenarios to run (default all), e.g. kill-mailer,nats-down,slow-smtp")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory (logs, databases) afterwards")
	fs.BoolVar(&o.prod, "prod", false, "run the production topology (make prodlike) and its scenarios: "+prodlike.FaultNames())
	fs.DurationVar(&o.nodeDown, "node-down", 10*time.Second, "how long a killed NATS node stays down (-prod)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.prod {
		// The mailer's Deployment sends 10 emails a second at most
		// (MAIL_RATE): a load below it keeps the probe's email from
		// queueing behind a backlog.
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["rate"] {
			o.rate = 8
		}
		if !set["requests"] {
			o.requests = 240
		}
	}
	if o.rate <= 0 || o.requests <= 0 {
		return o, errors.New("-rate and -requests must be positive")
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout io.Writer) (err error) {
	o, err := parse(args, stdout)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	say := func(format string, args ...any) { fmt.Fprintf(stdout, "chaos | "+format+"\n", args...) }

	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	root, err := stack.Root(wd)
	if err != nil {
		return err
	}
	bin := o.bin
	if !filepath.IsAbs(bin) {
		bin = filepath.Join(root, bin)
	}
	for _, n := range append(stack.Services(), "mailpit") {
		if _, err := os.Stat(filepath.Join(bin, n)); err != nil {
			return fmt.Errorf("%s not built (run make build): %w", n, err)
		}
	}

	if o.prod {
		return runProd(ctx, o, root, bin, stdout)
	}
	tmp, err := os.MkdirTemp("", "acube-chaos-")
	if err != nil {
		return fmt.Errorf("temporary directory: %w", err)
	}
	defer func() {
		if o.keep || err != nil {
			say("kept %s", tmp)
			return
		}
		_ = os.RemoveAll(tmp)
	}()
	logFile, err := os.Create(filepath.Join(tmp, "chaos.log"))
	if err != nil {
		return fmt.Errorf("log file: %w", err)
	}
	defer logFile.Close()
	out := stack.NewOutput(logFile)
	say("logs of every process: %s", logFile.Name())

	ports, err := freePorts(5)
	if err != nil {
		return err
	}
	pgDir, err := os.MkdirTemp("", "acube-chaos-pg-")
	if err != nil {
		return fmt.Errorf("postgres directory: %w", err)
	}
	pg, err := chaos.StartPostgres(ctx, chaos.PostgresBin, pgDir, ports[0])
	if err != nil {
		_ = os.RemoveAll(pgDir)
		return err
	}
	defer func() { err = errors.Join(err, pg.Close()) }()
	dbURL := pg.URL("chaos")
	if err := postgres.EnsureDatabase(ctx, dbURL); err != nil {
		return err
	}
	say("postgres on 127.0.0.1:%d (%s)", ports[0], pgDir)

	redis, err := chaos.StartRedis(ctx, ports[1], out)
	if err != nil {
		return err
	}
	defer func() { _ = redis.Close() }()

	ns, err := stack.StartNATS(filepath.Join(tmp, "nats"), ports[2])
	if err != nil {
		return err
	}
	defer ns.Shutdown()

	mpProc, mp, err := chaos.StartMailpit(ctx, filepath.Join(bin, "mailpit"), tmp, ports[3], ports[4], out)
	if err != nil {
		return err
	}
	defer func() { _ = mpProc.Stop(5 * time.Second) }()
	// The mailer reaches Mailpit through the proxy that slows, refuses
	// and records arrival order (slow-smtp, deadletter-outage, two-relays).
	smtp, err := chaos.StartSMTPProxy(stack.Addr(ports[3]))
	if err != nil {
		return err
	}
	defer func() { _ = smtp.Close() }()
	say("redis %s, nats %s, mailpit http://%s, smtp proxy %s:%d", redis.URL(), ns.URL(), stack.Addr(ports[4]), smtp.Host(), smtp.Port())

	svcs, err := chaos.StartServices(ctx, bin, chaos.Deps{
		DatabaseURL: dbURL, NATSURL: ns.URL(), RedisURL: redis.URL(), RedisPrefix: "chaos:",
		SMTPHost: smtp.Host(), SMTPPort: smtp.Port(), DataDir: filepath.Join(tmp, "data"),
		Env: map[string][]string{"mailer": chaos.MailerEnv()},
	}, out)
	if err != nil {
		return err
	}
	defer func() { _ = svcs.Close() }()
	say("services ready; gateway %s", svcs.URL("gateway"))

	super, password := "chaos-super@chaos.test", adminflow.RandomPassword()
	secret, err := svcs.Bootstrap(ctx, super, password)
	if err != nil {
		return err
	}

	var faults []chaos.Fault
	for _, n := range []string{"booking", "mailer", "admin", "exporter", "gateway"} {
		faults = append(faults, chaos.KillService(svcs, n, o.killDown))
	}
	faults = append(faults, chaos.StopNATS(ns, o.natsDown), chaos.StopRedis(redis, o.redisDown), chaos.RestartPostgres(pg, o.pgDown),
		chaos.SlowSMTP(smtp, o.smtpDelay, o.slowSMTP),
		chaos.DeadLetterOutage(ns.URL(), o.dlDown),
		chaos.TwoRelays(svcs, o.replicas),
		chaos.PoisonRow(dbURL, svcs.ReplicaURL("booking", 0)+"/metrics", 10*time.Second),
		// Last: it restarts every service.
		chaos.NATSDownAtStart(svcs, ns, o.natsDown))
	if o.only != "" {
		want := strings.Split(o.only, ",")
		faults = slices.DeleteFunc(faults, func(f chaos.Fault) bool { return !slices.Contains(want, f.Name) })
		if len(faults) == 0 {
			return fmt.Errorf("-only %q names no scenario", o.only)
		}
	}

	client := chaos.NewClient(svcs.URL("gateway"), map[string]string{
		"booking": svcs.URL("booking"), "admin": svcs.URL("admin"), "exporter": svcs.URL("exporter"),
	})
	client.SetTOTP(super, secret)
	rep, err := chaos.Run(ctx, chaos.Config{
		Rate: o.rate, Requests: o.requests, SuperEmail: super, SuperPassword: password, Progress: stdout,
	}, chaos.Target{Client: client, Mail: mp, Arrivals: smtp.Arrivals}, faults)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	rep.Print(stdout)
	if rep.Failed() {
		return errors.New("the system lost, duplicated, misordered or overbooked something, refused where it must not, or did not recover (see above)")
	}
	return nil
}

// freePorts finds n distinct free loopback ports.
func freePorts(n int) ([]int, error) {
	var ports []int
	for len(ports) < n {
		p, err := stack.FreePort()
		if err != nil {
			return nil, err
		}
		if !slices.Contains(ports, p) {
			ports = append(ports, p)
		}
	}
	return ports, nil
}
