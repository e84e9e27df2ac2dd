package chaos

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"time"

	"github.com/acube/platform/tools/internal/stack"
)

// PostgresBin is where Debian installs the PostgreSQL 15 server programs.
const PostgresBin = "/usr/lib/postgresql/15/bin"

// Postgres is a PostgreSQL cluster of the run's own: its data directory is
// a temporary one and it listens on a port of its own, so stopping it
// disturbs no other test and no development stack.
type Postgres struct {
	bin  string
	dir  string // owns data/, the socket and the log
	port int
	user string // run the server programs as this user; "" runs them as ourselves
}

// StartPostgres creates a cluster under dir (initdb) and starts it on port.
// initdb refuses to run as root, so as root the programs run as the
// "postgres" user, which then owns dir.
func StartPostgres(ctx context.Context, bin, dir string, port int) (*Postgres, error) {
	pg := &Postgres{bin: bin, dir: dir, port: port}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("postgres cluster: initdb refuses root and there is no postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, fmt.Errorf("postgres cluster: hand %s to postgres: %w", dir, err)
		}
		pg.user = "postgres"
	}
	if err := pg.run(ctx, "initdb", "-D", pg.data(), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"); err != nil {
		return nil, err
	}
	if err := pg.Start(ctx); err != nil {
		return nil, err
	}
	return pg, nil
}

func (pg *Postgres) data() string { return filepath.Join(pg.dir, "data") }

// URL is the connection URL of database name on this cluster.
func (pg *Postgres) URL(name string) string {
	return "postgres://postgres@" + stack.Addr(pg.port) + "/" + name + "?sslmode=disable"
}

// Start starts the server and waits until it accepts connections.
// fsync is off: the machine never crashes in a run, only the server does,
// and an immediate stop keeps everything the kernel already holds.
func (pg *Postgres) Start(ctx context.Context) error {
	opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -k %s -c fsync=off -c full_page_writes=off -c max_connections=200",
		pg.port, pg.dir)
	return pg.run(ctx, "pg_ctl", "-D", pg.data(), "-l", filepath.Join(pg.dir, "server.log"), "-o", opts, "-w", "-t", "60", "start")
}

// Crash stops the server at once, as a crash would: no checkpoint, every
// connection cut; the next Start runs crash recovery.
func (pg *Postgres) Crash(ctx context.Context) error {
	return pg.run(ctx, "pg_ctl", "-D", pg.data(), "-m", "immediate", "-w", "stop")
}

// Close stops the server and removes its files.
func (pg *Postgres) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := pg.run(ctx, "pg_ctl", "-D", pg.data(), "-m", "fast", "-w", "stop")
	if rmErr := os.RemoveAll(pg.dir); rmErr != nil {
		err = errors.Join(err, fmt.Errorf("remove postgres cluster: %w", rmErr))
	}
	return err
}

func (pg *Postgres) run(ctx context.Context, prog string, args ...string) error {
	name := filepath.Join(pg.bin, prog)
	if pg.user != "" {
		args = append([]string{"-u", pg.user, "--", name}, args...)
		name = "runuser"
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = pg.dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("postgres cluster: %s: %w\n%s", prog, err, out)
	}
	return nil
}

// Redis is a redis-server of the run's own, without persistence.
type Redis struct {
	proc *stack.Process
	port int
}

// StartRedis runs redis-server on port and waits until it answers.
func StartRedis(ctx context.Context, port int, out *stack.Output) (*Redis, error) {
	p, err := stack.Start(stack.Spec{Name: "redis", Bin: "redis-server",
		Args: []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"}}, out)
	if err != nil {
		return nil, err
	}
	r := &Redis{proc: p, port: port}
	if err := waitTCP(ctx, stack.Addr(port)); err != nil {
		p.Kill()
		return nil, fmt.Errorf("redis: %w", err)
	}
	return r, nil
}

// URL is the server's redis:// URL.
func (r *Redis) URL() string { return "redis://" + stack.Addr(r.port) + "/0" }

// Kill ends the server with SIGKILL.
func (r *Redis) Kill() { r.proc.Kill() }

// Restart starts the server again on the same port, empty.
func (r *Redis) Restart(ctx context.Context) error {
	p, err := r.proc.Respawn()
	if err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	r.proc = p
	return waitTCP(ctx, stack.Addr(r.port))
}

// Close stops the server.
func (r *Redis) Close() error { return r.proc.Stop(5 * time.Second) }

// StartMailpit runs Mailpit from bin with its database in dir, SMTP on
// smtpPort and the API on uiPort, keeping every message (--max 0), and
// waits until its API answers.
func StartMailpit(ctx context.Context, bin, dir string, smtpPort, uiPort int, out *stack.Output) (*stack.Process, *Mailpit, error) {
	p, err := stack.Start(stack.Spec{Name: "mailpit", Bin: bin, Addr: stack.Addr(uiPort),
		Args: []string{"--smtp", stack.Addr(smtpPort), "--listen", stack.Addr(uiPort),
			"--database", filepath.Join(dir, "mailpit.db"), "--max", "0", "--quiet"}}, out)
	if err != nil {
		return nil, nil, err
	}
	mp := NewMailpit("http://" + stack.Addr(uiPort))
	client := &http.Client{Timeout: time.Second}
	for {
		resp, err := client.Get(mp.base + "/api/v1/messages?limit=1")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, mp, nil
			}
		}
		select {
		case <-ctx.Done():
			p.Kill()
			return nil, nil, fmt.Errorf("mailpit not ready: %w", ctx.Err())
		case <-p.Done():
			return nil, nil, fmt.Errorf("mailpit exited: %v", p.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// waitTCP waits until addr accepts a connection or ctx ends.
func waitTCP(ctx context.Context, addr string) error {
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not accepting connections: %w", addr, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
