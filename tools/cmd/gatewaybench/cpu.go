package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTick is Linux's USER_HZ, the unit of /proc/<pid>/stat CPU times.
const clockTick = 10 * time.Millisecond

// cpuTime is the user+system CPU time of pid and of its children (nginx's
// workers), so a noisy, shared machine still yields a fair per-request cost:
// other processes' load delays requests but does not add to this figure.
func cpuTime(pid int) time.Duration {
	total := procCPU(pid)
	matches, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, m := range matches {
		b, err := os.ReadFile(m)
		if err != nil {
			continue
		}
		f := statFields(string(b))
		if len(f) > 2 && f[1] == strconv.Itoa(pid) {
			if child, err := strconv.Atoi(filepath.Base(filepath.Dir(m))); err == nil {
				total += procCPU(child)
			}
		}
	}
	return total
}

func procCPU(pid int) time.Duration {
	user, sys := procUserSys(pid)
	return user + sys
}

// procUserSys is the user and the system CPU time of pid itself.
func procUserSys(pid int) (user, sys time.Duration) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0
	}
	f := statFields(string(b))
	if len(f) < 13 {
		return 0, 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime) * clockTick, time.Duration(stime) * clockTick
}

// statFields splits /proc/<pid>/stat after the command name (which may hold
// spaces): field 0 is the state, 1 the parent pid, 11 utime, 12 stime.
func statFields(s string) []string {
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+1:]
	}
	return strings.Fields(s)
}
