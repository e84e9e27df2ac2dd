package testkit

import (
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// Process is a child process a test started with StartProcess.
type Process struct {
	// Output is what the process wrote to stdout and stderr, unless the
	// command had writers of its own.
	Output *SyncBuffer

	cmd  *exec.Cmd
	done chan struct{}
	err  error // valid once done is closed
}

// StartProcess starts cmd and, when readyURL is not empty, waits until a
// GET of it answers 200 while the process runs. When the test ends the
// process gets SIGTERM and, if it has not exited within the wait bound,
// SIGKILL; its output is logged when the test failed.
func StartProcess(t testing.TB, cmd *exec.Cmd, readyURL string, opts ...Option) *Process {
	t.Helper()
	p := &Process{Output: &SyncBuffer{}, cmd: cmd, done: make(chan struct{})}
	if cmd.Stdout == nil {
		cmd.Stdout = p.Output
	}
	if cmd.Stderr == nil {
		cmd.Stderr = p.Output
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	go func() {
		defer close(p.done)
		p.err = cmd.Wait()
	}()
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Errorf("stop %s: %v", cmd.Path, err)
		}
		if t.Failed() {
			t.Logf("output of %s:\n%s", cmd.Path, p.Output.String())
		}
	})
	if readyURL != "" {
		opts = append([]Option{While(p.Alive), Explain(func() string { return "output:\n" + p.Output.String() })}, opts...)
		WaitHTTP(t, readyURL, http.StatusOK, opts...)
	}
	return p
}

// Done is closed once the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Alive returns nil while the process runs and an error saying how it
// ended once it has exited (see While).
func (p *Process) Alive() error {
	select {
	case <-p.done:
		return fmt.Errorf("%s exited: %v", p.cmd.Path, p.err)
	default:
		return nil
	}
}

// Stop sends SIGTERM and waits for the process to exit, killing it after
// the wait bound. An exit on SIGTERM or with status 0 is not an error.
func (p *Process) Stop() error {
	select {
	case <-p.done:
		return p.exitErr()
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.exitErr()
	case <-time.After(Scaled(DefaultTimeout)):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("did not exit within %s of SIGTERM; killed", Scaled(DefaultTimeout))
	}
}

func (p *Process) exitErr() error {
	var exit *exec.ExitError
	if errors.As(p.err, &exit) {
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGTERM {
			return nil
		}
	}
	return p.err
}
