package main

import (
	"fmt"
	"os"
	"os/exec"
	"time"
)

// procs are the processes the benchmark started; stopped at the end.
type procs []*exec.Cmd

// start runs name pinned to the CPU list cpu (when taskset exists), with
// env added to this process's environment and its output in logPath, and
// returns its pid.
func (ps *procs) start(cpu, logPath string, env []string, name string, args ...string) (int, error) {
	cmd := pinned(cpu, name, args...)
	cmd.Env = append(os.Environ(), env...)
	f, err := os.Create(logPath)
	if err != nil {
		return 0, fmt.Errorf("log of %s: %w", name, err)
	}
	defer f.Close() // the child has its own descriptor
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start %s: %w", name, err)
	}
	*ps = append(*ps, cmd)
	return cmd.Process.Pid, nil
}

// pinned is name args run on the CPU list cpu (taskset exec's it, so the
// pid is the program's).
func pinned(cpu, name string, args ...string) *exec.Cmd {
	if _, err := exec.LookPath("taskset"); err != nil || cpu == "" {
		return exec.Command(name, args...)
	}
	return exec.Command("taskset", append([]string{"-c", cpu, name}, args...)...)
}

// stop interrupts every process, and kills those still running 3 s later.
func (ps procs) stop() {
	for _, c := range ps {
		if c.Process != nil {
			_ = c.Process.Signal(os.Interrupt)
		}
	}
	for _, c := range ps {
		done := make(chan struct{})
		go func() { _ = c.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			_ = c.Process.Kill()
			<-done
		}
	}
}
