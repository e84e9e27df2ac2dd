package main

import (
	"bufio"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/acube/platform/libs/benchresult"
)

// machine is where and when the benchmarks ran.
type machine struct {
	cpu, kernel, memory, goVersion string
	cpus                           int
	commit                         string
	loadStart, loadEnd             string
	started, finished              time.Time
}

func describeMachine(root string) machine {
	m := machine{cpu: "unknown CPU", cpus: runtime.NumCPU(), goVersion: runtime.Version(),
		commit: commit(root), loadStart: benchresult.LoadAverage(), started: time.Now().UTC()}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.cpu = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = "Linux " + strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
				m.memory = strconv.FormatFloat(float64(kb)/(1<<20), 'f', 1, 64) + " GiB"
			}
		}
	}
	return m
}

// commit reads the checked-out commit from the repository's .git files,
// without running git: HEAD, then the branch's loose ref or packed-refs,
// following a worktree's gitdir and commondir.
func commit(root string) string {
	gitDir := filepath.Join(root, ".git")
	if b, err := os.ReadFile(gitDir); err == nil { // a worktree: "gitdir: path"
		if p, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "gitdir: "); ok {
			if !filepath.IsAbs(p) {
				p = filepath.Join(root, p)
			}
			gitDir = p
		}
	}
	head, err := os.ReadFile(filepath.Join(gitDir, "HEAD"))
	if err != nil {
		return "unknown"
	}
	ref, ok := strings.CutPrefix(strings.TrimSpace(string(head)), "ref: ")
	if !ok {
		return strings.TrimSpace(string(head)) // detached
	}
	dirs := []string{gitDir}
	if b, err := os.ReadFile(filepath.Join(gitDir, "commondir")); err == nil {
		c := strings.TrimSpace(string(b))
		if !filepath.IsAbs(c) {
			c = filepath.Join(gitDir, c)
		}
		dirs = append(dirs, c)
	}
	for _, d := range dirs {
		if b, err := os.ReadFile(filepath.Join(d, ref)); err == nil {
			return strings.TrimSpace(string(b)) + " (" + strings.TrimPrefix(ref, "refs/heads/") + ")"
		}
		if b, err := os.ReadFile(filepath.Join(d, "packed-refs")); err == nil {
			for line := range strings.SplitSeq(string(b), "\n") {
				if sha, name, ok := strings.Cut(line, " "); ok && name == ref {
					return sha + " (" + strings.TrimPrefix(ref, "refs/heads/") + ")"
				}
			}
		}
	}
	return "unknown (" + ref + " has no commit yet)"
}
