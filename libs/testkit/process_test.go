package testkit

import (
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
)

// The test binary plays the child process: with TESTKIT_CHILD set it runs
// TestChildProcess as a server (or a crash) and exits.
const childEnv = "TESTKIT_CHILD"

func TestChildProcess(t *testing.T) {
	mode := os.Getenv(childEnv)
	if mode == "" {
		t.Skip("run as a child by the StartProcess tests")
	}
	if mode == "crash" {
		os.Stderr.WriteString("cannot read config\n")
		os.Exit(3)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	srv := &http.Server{Addr: os.Getenv("ADDR"), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})}
	go func() {
		<-ctx.Done()
		os.Stdout.WriteString("stopping\n")
		_ = srv.Close()
	}()
	os.Stdout.WriteString("listening\n")
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		os.Stderr.WriteString(err.Error())
		os.Exit(1)
	}
	os.Exit(0)
}

func child(mode, addr string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+mode, "ADDR="+addr)
	return cmd
}

func TestStartProcess(t *testing.T) {
	t.Parallel()
	addr := FreeAddr(t)
	f := runFake(t, func(tb *fakeT) {
		p := StartProcess(tb, child("serve", addr), "http://"+addr+"/readyz")
		if err := p.Alive(); err != nil {
			tb.Errorf("Alive: %v", err)
		}
		p.Output.WaitFor(tb, "listening")
	})
	if f.fatal != "" {
		t.Fatal(f.fatal)
	}
	f.cleanup()
	if len(f.errors) > 0 {
		t.Fatalf("errors: %q", f.errors)
	}
}

func TestStartProcessThatCrashes(t *testing.T) {
	t.Parallel()
	addr := FreeAddr(t)
	f := runFake(t, func(tb *fakeT) {
		StartProcess(tb, child("crash", addr), "http://"+addr+"/readyz")
	})
	for _, want := range []string{"exited: exit status 3", "cannot read config"} {
		if !strings.Contains(f.fatal, want) {
			t.Errorf("failure %q lacks %q", f.fatal, want)
		}
	}
	f.cleanup()
	if len(f.errors) != 1 || !strings.Contains(f.errors[0], "exit status 3") {
		t.Errorf("cleanup errors %q, want the exit status", f.errors)
	}
}

func TestStartProcessThatCannotStart(t *testing.T) {
	t.Parallel()
	f := runFake(t, func(tb *fakeT) {
		StartProcess(tb, exec.Command("/nonexistent/binary"), "")
	})
	if !strings.Contains(f.fatal, "start /nonexistent/binary") {
		t.Errorf("failure %q", f.fatal)
	}
}

func TestProcessStopAfterExit(t *testing.T) {
	t.Parallel()
	f := runFake(t, func(tb *fakeT) {
		p := StartProcess(tb, exec.Command("true"), "")
		<-p.Done()
		if err := p.Stop(); err != nil {
			tb.Errorf("Stop after a clean exit: %v", err)
		}
	})
	if f.fatal != "" || len(f.errors) > 0 {
		t.Fatalf("fatal %q, errors %q", f.fatal, f.errors)
	}
	f.cleanup()
}
