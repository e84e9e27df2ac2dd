// Package stack builds the platform's service binaries and runs them as
// child processes: the local `make run` launcher and the end-to-end tests
// start the system the same way production does, one process per service,
// on a database laid out as production's (PrepareDatabase) and migrated by
// each service's own migrate step (Migrate).
package stack

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/acube/platform/libs/freeport"
)

// DefaultAddr is where a service listens locally unless told otherwise
// (DESIGN §1): its port on loopback. For the gateway it is the public
// port (the API); its probes and metrics are at DefaultProbeAddr.
func DefaultAddr(name string) string {
	port := map[string]int{"gateway": 8001, "booking": 8101, "admin": 8102, "mailer": 8103, "exporter": 8104}[name]
	return Addr(port)
}

// DefaultProbeAddr is where a service serves /healthz, /readyz and
// /metrics locally: the gateway on its internal port
// (GATEWAY_INTERNAL_ADDR's default, 127.0.0.1:8002), the others on
// DefaultAddr.
func DefaultProbeAddr(name string) string {
	if name == "gateway" {
		return Addr(8002)
	}
	return DefaultAddr(name)
}

// ListenEnv is the environment that makes service name listen on addr
// (and, for the gateway, serve its probes and metrics on probeAddr):
// BOOKING_ADDR=..., GATEWAY_ADDR=... GATEWAY_INTERNAL_ADDR=....
func ListenEnv(name, addr, probeAddr string) []string {
	env := []string{strings.ToUpper(name) + "_ADDR=" + addr}
	if name == "gateway" {
		env = append(env, "GATEWAY_INTERNAL_ADDR="+probeAddr)
	}
	return env
}

// Services lists the platform's services in start order: the gateway last,
// so it routes only to services that are up. Stop in reverse.
func Services() []string { return []string{"booking", "admin", "mailer", "exporter", "gateway"} }

// Output is where child processes' lines go, whole lines at a time.
type Output struct {
	mu sync.Mutex
	w  io.Writer
}

// NewOutput wraps w for use by several processes at once.
func NewOutput(w io.Writer) *Output { return &Output{w: w} }

func (o *Output) line(s string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	fmt.Fprintln(o.w, s)
}

// Root finds the repository root (the directory holding go.work) from dir
// upwards.
func Root(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.work")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.work above %s", dir)
		}
	}
}

// Build compiles each named service into binDir.
func Build(ctx context.Context, root, binDir string, names ...string) error {
	args := []string{"build", "-o", binDir + string(filepath.Separator)}
	for _, n := range names {
		args = append(args, "./services/"+n+"/cmd/"+n)
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build services: %w\n%s", err, out)
	}
	return nil
}

// Process is one running service.
type Process struct {
	Name string
	// Addr is the host:port it serves HTTP on.
	Addr string
	// ProbeAddr is the host:port of its /readyz and /metrics: Addr, or
	// the gateway's internal port.
	ProbeAddr string

	cmd  *exec.Cmd
	spec Spec
	out  *Output
	done chan struct{}
	err  error
}

// Spec says how to run one process.
type Spec struct {
	Name string
	Bin  string
	Args []string
	// Env is added to the current environment.
	Env []string
	// Addr is where it serves HTTP.
	Addr string
	// ProbeAddr is where WaitReady polls /readyz. The gateway serves its
	// probes on GATEWAY_INTERNAL_ADDR, not its public port: empty, it is
	// that variable of Env, or for a process named gateway without one a
	// free loopback port Start gives it; for every other process, Addr.
	ProbeAddr string
}

// Start runs the process, prefixing each line it prints with its name.
func Start(spec Spec, out *Output) (*Process, error) {
	if err := gatewayProbes(&spec); err != nil {
		return nil, err
	}
	name, addr := spec.Name, spec.Addr
	cmd := exec.Command(spec.Bin, spec.Args...)
	cmd.Env = append(os.Environ(), spec.Env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	probe := spec.ProbeAddr
	if probe == "" {
		probe = addr
	}
	p := &Process{Name: name, Addr: addr, ProbeAddr: probe, cmd: cmd, spec: spec, out: out, done: make(chan struct{})}
	var wg sync.WaitGroup
	wg.Go(func() { prefixLines(pr, out, name) })
	go func() {
		p.err = cmd.Wait()
		pw.Close()
		wg.Wait()
		close(p.done)
	}()
	return p, nil
}

// gatewayProbes finds where a gateway serves its probes when the spec
// does not say: at the GATEWAY_INTERNAL_ADDR its environment gives, or,
// for a process named gateway without one, at a free loopback port it
// is then given (so several replicas never share the default 8002).
func gatewayProbes(spec *Spec) error {
	if spec.ProbeAddr != "" {
		return nil
	}
	for _, kv := range slices.Backward(spec.Env) {
		if v, ok := strings.CutPrefix(kv, "GATEWAY_INTERNAL_ADDR="); ok {
			spec.ProbeAddr = v
			return nil
		}
	}
	if spec.Name != "gateway" {
		return nil
	}
	port, err := FreePort()
	if err != nil {
		return fmt.Errorf("start gateway: internal port: %w", err)
	}
	spec.ProbeAddr = Addr(port)
	spec.Env = append(slices.Clone(spec.Env), "GATEWAY_INTERNAL_ADDR="+spec.ProbeAddr)
	return nil
}

// prefixLines copies r to out line by line as "name | line".
func prefixLines(r io.Reader, out *Output, name string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	prefix := fmt.Sprintf("%-8s | ", name)
	for sc.Scan() {
		out.line(prefix + sc.Text())
	}
	_, _ = io.Copy(io.Discard, r)
}

// Respawn starts the process again from the same Spec and Output once it
// has exited (after Kill or Stop), as a supervisor restarting a crashed
// service would. The returned Process replaces p.
func (p *Process) Respawn() (*Process, error) {
	select {
	case <-p.done:
	default:
		return nil, fmt.Errorf("respawn %s: still running", p.Name)
	}
	return Start(p.spec, p.out)
}

// Pid is the operating-system process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err is the exit error, valid after Done is closed.
func (p *Process) Err() error { return p.err }

// Stop sends SIGTERM and waits up to grace for the process to exit, then
// kills it.
func (p *Process) Stop(grace time.Duration) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		var exit *exec.ExitError
		if errors.As(p.err, &exit) {
			return fmt.Errorf("%s exited with %v", p.Name, exit)
		}
		return nil
	case <-time.After(grace):
		p.Kill()
		return fmt.Errorf("%s did not stop within %s; killed", p.Name, grace)
	}
}

// Kill ends the process with SIGKILL, as a crash would, and waits for it.
func (p *Process) Kill() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// WaitReady polls http://ProbeAddr/readyz until it answers 200, the
// process exits or ctx ends.
func (p *Process) WaitReady(ctx context.Context) error {
	url := "http://" + p.ProbeAddr + "/readyz"
	client := &http.Client{Timeout: time.Second}
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready at %s: %w", p.Name, url, ctx.Err())
		case <-p.done:
			return fmt.Errorf("%s exited before it was ready: %v", p.Name, p.err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// FreePort returns a loopback port for a child process to listen on
// (libs/freeport: one no outgoing connection will take meanwhile).
func FreePort() (int, error) { return freeport.Pick() }

// Addr joins a loopback host and port.
func Addr(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }
