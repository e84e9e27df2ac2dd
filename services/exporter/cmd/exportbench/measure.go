package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// backendCPUQuery reads the CPU time, in ms, of the PostgreSQL backend
// serving the session from /proc/<pid>/stat (utime and stime, in ticks of
// 10 ms): the server's share of an export's work, which the client's CPU
// time does not show. It needs a superuser (pg_read_file of an absolute
// path), as the benchmark's database has.
const backendCPUQuery = `SELECT (split_part(s, ' ', 14)::bigint + split_part(s, ' ', 15)::bigint) * 10 ` +
	`FROM pg_read_file('/proc/' || pg_backend_pid() || '/stat') AS s`

// result is one timed run of a subprocess.
type result struct {
	tool    string
	rows    int
	bytes   int64
	elapsed time.Duration
	maxRSS  int64         // peak resident set, kB
	cpu     time.Duration // the child's user + system time
	// selfCPU is this process's user + system time while the child ran:
	// the in-process JetStream server's work (the sampler's is a few ms).
	selfCPU time.Duration
	// backendCPU is the user + system time of the PostgreSQL backend
	// that served the child's query; negative when it could not be read.
	backendCPU time.Duration
	stdout     []byte
}

// measure runs cmd to its end and returns its wall time, its CPU time and
// this process's, and its peak RSS.
// The peak is sampled from /proc/<pid>/status (VmHWM) while it runs:
// getrusage's maxrss of a child is useless here, since Go starts children
// with vfork and the child's figure then includes this process's memory.
func measure(ctx context.Context, cmd *exec.Cmd) (result, error) {
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	self0 := selfCPU()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return result{}, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	pid := strconv.Itoa(cmd.Process.Pid)
	stop := make(chan struct{})
	peak := make(chan int64, 1)
	go func() {
		var hwm int64
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			if v, err := vmHWM(pid); err == nil {
				hwm = max(hwm, v)
			}
			select {
			case <-stop:
				peak <- hwm
				return
			case <-t.C:
			}
		}
	}()
	err := cmd.Wait()
	elapsed := time.Since(start)
	close(stop)
	r := result{elapsed: elapsed, stdout: []byte(out.String()), maxRSS: <-peak, selfCPU: selfCPU() - self0}
	if err != nil {
		return result{}, fmt.Errorf("%s: %w: %s", cmd.Path, err, errOut.String())
	}
	r.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return r, ctx.Err()
}

// selfCPU is this process's user + system time so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// vmHWM reads the peak resident set size, in kB, of a process ("self" or a pid).
func vmHWM(pid string) (int64, error) {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return 0, fmt.Errorf("read status of process %s: %w", pid, err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse VmHWM of process %s: %w", pid, err)
			}
			return kb, nil
		}
	}
	return 0, fmt.Errorf("no VmHWM for process %s", pid)
}

func fileSize(path string) int64 {
	info, err := os.Stat(path)
	if err != nil {
		return -1
	}
	return info.Size()
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

// plus is a and then b run one after the other: times and CPU add up,
// the peak is the higher one, and the rest (tool, rows, bytes, output) is
// b's, the last run's.
func (a result) plus(b result) result {
	if a.tool == "" {
		return b
	}
	backend := a.backendCPU + b.backendCPU
	if a.backendCPU < 0 || b.backendCPU < 0 {
		backend = -1
	}
	b.elapsed, b.cpu, b.selfCPU, b.backendCPU = a.elapsed+b.elapsed, a.cpu+b.cpu, a.selfCPU+b.selfCPU, backend
	b.maxRSS = max(a.maxRSS, b.maxRSS)
	return b
}

// per is r's times and CPU divided by k: one run's share of k run in a row.
func (r result) per(k int) result {
	d := time.Duration(k)
	r.elapsed, r.cpu, r.selfCPU = r.elapsed/d, r.cpu/d, r.selfCPU/d
	if r.backendCPU > 0 {
		r.backendCPU /= d
	}
	return r
}
