// Package redistest gives tests a real Redis: the shared one at
// 127.0.0.1:6379 with a random key prefix per test, or a redis-server
// process of their own that they may stop and start again.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/acube/platform/libs/testkit"
)

// SharedURL is the development Redis every test may use, with its own
// prefix.
const SharedURL = "redis://127.0.0.1:6379/0"

// Shared returns a client of the shared Redis, skipping under -short and
// failing if it does not answer. The client is closed at cleanup.
func Shared(t testing.TB) *redis.Client {
	t.Helper()
	if testing.Short() {
		t.Skip("needs Redis; skipped under -short")
	}
	opts, err := redis.ParseURL(SharedURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("shared redis at %s: %v", SharedURL, err)
	}
	return rdb
}

// Prefix returns a random key prefix and deletes its keys at cleanup, so
// tests never see each other's counters or a dev stack's.
func Prefix(t testing.TB, rdb *redis.Client) string {
	t.Helper()
	var b [8]byte
	_, _ = rand.Read(b[:])
	prefix := "test:" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
	})
	return prefix
}

// Server is a redis-server process owned by one test.
type Server struct {
	t    testing.TB
	Port int
	cmd  *exec.Cmd
}

// Start runs redis-server (no persistence) on a free port, skipping under
// -short. It is stopped at cleanup.
func Start(t testing.TB) *Server {
	t.Helper()
	if testing.Short() {
		t.Skip("starts redis-server; skipped under -short")
	}
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not installed")
	}
	s := &Server{t: t, Port: FreePort(t)}
	s.Restart()
	t.Cleanup(s.Stop)
	return s
}

// URL is the server's redis:// URL.
func (s *Server) URL() string { return "redis://127.0.0.1:" + strconv.Itoa(s.Port) + "/0" }

// Restart starts the server again on its port and waits until it answers.
func (s *Server) Restart() {
	s.t.Helper()
	s.cmd = exec.Command("redis-server", "--port", strconv.Itoa(s.Port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--protected-mode", "no")
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start redis-server: %v", err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(s.Port), MaxRetries: -1})
	defer rdb.Close()
	testkit.EventuallyErr(s.t, fmt.Sprintf("redis-server on port %d to answer", s.Port), func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return rdb.Ping(ctx).Err()
	})
}

// Stop kills the server and waits for it to exit.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// FreePort returns a TCP port nothing listens on right now, and that no
// outgoing connection will take meanwhile (libs/freeport).
func FreePort(t testing.TB) int {
	t.Helper()
	return testkit.FreePort(t)
}

// DeadURL is a redis:// URL of a port nobody listens on.
func DeadURL(t testing.TB) string {
	return fmt.Sprintf("redis://127.0.0.1:%d/0", FreePort(t))
}

// Sentinel is a redis-server in Sentinel mode owned by one test, watching
// one primary under the master name "acube".
type Sentinel struct {
	Port int
}

// StartSentinel runs a Sentinel that monitors primary and waits until it
// names it; it is stopped at cleanup.
func StartSentinel(t testing.TB, primary *Server) *Sentinel {
	t.Helper()
	s := &Sentinel{Port: FreePort(t)}
	dir := t.TempDir()
	conf := filepath.Join(dir, "sentinel.conf") // Sentinel rewrites its file
	body := fmt.Sprintf("port %d\nbind 127.0.0.1\nprotected-mode no\ndir %s\nsentinel monitor acube 127.0.0.1 %d 1\nsentinel down-after-milliseconds acube 1000\n",
		s.Port, dir, primary.Port)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("redis-server", conf, "--sentinel")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis sentinel: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	sc := redis.NewSentinelClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(s.Port), MaxRetries: -1})
	defer sc.Close()
	testkit.EventuallyErr(t, fmt.Sprintf("sentinel on port %d to name the primary", s.Port), func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		addr, err := sc.GetMasterAddrByName(ctx, "acube").Result()
		if err == nil && (len(addr) != 2 || addr[1] != strconv.Itoa(primary.Port)) {
			err = fmt.Errorf("names %v", addr)
		}
		return err
	})
	return s
}

// URL is the gateway's REDIS_URL for the primary behind this Sentinel.
func (s *Sentinel) URL() string {
	return "redis://127.0.0.1:" + strconv.Itoa(s.Port) + "/0?master_name=acube"
}
