package stack

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/acube/platform/libs/postgres/pgtest"
	"github.com/acube/platform/libs/smtptest"
)

func TestSystemConfigValidate(t *testing.T) {
	t.Parallel()
	ok := SystemConfig{Root: "/r", Bin: "/b", DatabaseURL: "postgres://x/y"}
	tests := []struct {
		name    string
		change  func(*SystemConfig)
		wantErr string
	}{
		{name: "complete", change: func(*SystemConfig) {}},
		{name: "a subset", change: func(c *SystemConfig) { c.Services = []string{"gateway", "booking"} }},
		{name: "no root", change: func(c *SystemConfig) { c.Root = "" }, wantErr: "no repository root"},
		{name: "no bin", change: func(c *SystemConfig) { c.Bin = "" }, wantErr: "no bin directory"},
		{name: "no database", change: func(c *SystemConfig) { c.DatabaseURL = "" }, wantErr: "no database url"},
		{name: "unknown service", change: func(c *SystemConfig) { c.Services = []string{"booking", "billing"} }, wantErr: `unknown service "billing"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			tt.change(&cfg)
			cfg.setDefaults()
			err := cfg.Validate()
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("Validate() = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// TestListenAddrs: without a Listen function every service gets a loopback
// port of its own and the gateway a separate probe port; with one, its
// answers are used as they are.
func TestListenAddrs(t *testing.T) {
	t.Parallel()
	addrs, probes, err := listenAddrs(nil)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, n := range Services() {
		for _, a := range []string{addrs[n], probes[n]} {
			if !strings.HasPrefix(a, "127.0.0.1:") {
				t.Errorf("%s: %q is not a loopback address", n, a)
			}
		}
		if n != "gateway" && probes[n] != addrs[n] {
			t.Errorf("%s probes on %s, serves on %s: want the same", n, probes[n], addrs[n])
		}
		seen[addrs[n]], seen[probes[n]] = true, true
	}
	if len(seen) != len(Services())+1 {
		t.Errorf("addresses %v, probes %v: want every port distinct, the gateway's probes on their own", addrs, probes)
	}

	fixed := func(n string) (string, string) { return DefaultAddr(n), DefaultProbeAddr(n) }
	addrs, probes, err = listenAddrs(fixed)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range Services() {
		if a, p := fixed(n); addrs[n] != a || probes[n] != p {
			t.Errorf("%s: %s, %s; want %s, %s", n, addrs[n], probes[n], a, p)
		}
	}
}

// TestSharedEnv: the services learn where everything is; the SMTP sink
// and the Redis prefix only when the run has them; the caller's Env comes
// last, so it overrides.
func TestSharedEnv(t *testing.T) {
	t.Parallel()
	sink, err := smtptest.Start(smtptest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sink.Close() })
	addrs := map[string]string{"booking": "127.0.0.1:1", "admin": "127.0.0.1:2", "mailer": "127.0.0.1:3", "exporter": "127.0.0.1:4", "gateway": "127.0.0.1:5"}
	probes := map[string]string{"booking": "127.0.0.1:1", "admin": "127.0.0.1:2", "mailer": "127.0.0.1:3", "exporter": "127.0.0.1:4", "gateway": "127.0.0.1:6"}
	links := []string{"BOOKING_LINK_SECRET=ab", "MAILER_LINK_SECRET=ab"}
	tests := []struct {
		name    string
		cfg     SystemConfig
		sink    *smtptest.Sink
		want    []string // present, in this order
		without []string // prefixes absent
	}{
		{
			name: "a test run",
			cfg:  SystemConfig{DataDir: "/d", Name: "e2e", Env: []string{"LOG_LEVEL=warn", "BOOKING_URL=http://elsewhere"}},
			sink: sink,
			want: []string{"NATS_URL=nats://n", "BOOKING_URL=http://127.0.0.1:1", "ADMIN_URL=http://127.0.0.1:2", "EXPORTER_URL=http://127.0.0.1:4",
				"ADMIN_DATA_DIR=/d/admin", "BOOKING_DATA_DIR=/d/booking", "SMTP_HOST=127.0.0.1", "BOOKING_LINK_SECRET=ab", "MAILER_LINK_SECRET=ab",
				"BOOKING_ADDR=127.0.0.1:1", "GATEWAY_ADDR=127.0.0.1:5", "GATEWAY_INTERNAL_ADDR=127.0.0.1:6", "LOG_LEVEL=warn", "BOOKING_URL=http://elsewhere"},
		},
		{
			name:    "make run: external mail, the services' own Redis prefix",
			cfg:     SystemConfig{DataDir: "/d"},
			want:    []string{"NATS_URL=nats://n", "BOOKING_DATA_DIR=/d/booking", "GATEWAY_INTERNAL_ADDR=127.0.0.1:6"},
			without: []string{"SMTP_HOST=", "SMTP_PORT=", "REDIS_KEY_PREFIX="},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := sharedEnv(tt.cfg, "nats://n", tt.sink, addrs, probes, links)
			at := -1
			for _, w := range tt.want {
				i := slices.Index(env[at+1:], w)
				if i < 0 {
					t.Fatalf("%q missing or out of order in %v", w, env)
				}
				at += i + 1
			}
			for _, p := range tt.without {
				if slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, p) }) {
					t.Errorf("%s set in %v", p, env)
				}
			}
			if tt.cfg.Name != "" && !slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "REDIS_KEY_PREFIX="+tt.cfg.Name+"-") }) {
				t.Errorf("no REDIS_KEY_PREFIX of run %s in %v", tt.cfg.Name, env)
			}
		})
	}
}

// TestIntegrationNATSRestart: the in-process server keeps its streams
// across a shutdown, as the chaos faults and the tests rely on.
func TestIntegrationNATSRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a NATS server; skipped under -short")
	}
	t.Parallel()
	ctx := t.Context()
	ns, err := StartNATS(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	streams := func() []string {
		t.Helper()
		nc, err := nats.Connect(ns.URL())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "KEPT", Subjects: []string{"kept.>"}}); err != nil {
			t.Fatal(err)
		}
		var names []string
		for n := range js.StreamNames(ctx).Name() {
			names = append(names, n)
		}
		return names
	}
	streams()
	ns.Shutdown()
	if err := ns.Restart(); err != nil {
		t.Fatal(err)
	}
	if got := streams(); !slices.Equal(got, []string{"KEPT"}) {
		t.Errorf("streams after restart %v, want [KEPT]", got)
	}
}

// TestIntegrationStartSystem starts booking alone from a fresh build on a
// scratch database, restarts it with a changed setting, and checks that
// Close leaves nothing behind: no process, no database, no data dir.
func TestIntegrationStartSystem(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts a service; skipped under -short")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	server := cmp.Or(os.Getenv("TEST_DATABASE_URL"), pgtest.DefaultURL)
	sys, err := StartSystem(ctx, SystemConfig{
		Root: repoRoot(t), Services: []string{"booking"}, Bin: t.TempDir(), Build: true,
		DatabaseURL: server, FreshDatabase: true, Name: "stacktest",
		Env: []string{"LOG_LEVEL=warn"}, Output: testLog{t},
	})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			_ = sys.Close()
		}
	})
	if sys.Gateway != "" || len(sys.Procs) != 1 || sys.Procs["booking"] == nil || sys.Sink == nil || sys.NATS == nil {
		t.Fatalf("gateway %q, procs %v, sink %v, nats %v: want booking alone, with a sink and NATS", sys.Gateway, sys.Procs, sys.Sink, sys.NATS)
	}
	var dbURL string
	for _, kv := range sys.EnvOf("booking") {
		if v, ok := strings.CutPrefix(kv, "DATABASE_URL="); ok {
			dbURL = v
		}
	}
	if !strings.Contains(dbURL, "//booking_app@") || !strings.Contains(dbURL, "/acube_stacktest_") {
		t.Fatalf("booking's DATABASE_URL %q: want its app role on the run's database", dbURL)
	}
	if slices.ContainsFunc(sys.EnvOf("gateway"), func(kv string) bool { return strings.HasPrefix(kv, "DATABASE_URL=") }) {
		t.Error("the gateway got a DATABASE_URL; it has no schema")
	}

	old := sys.Procs["booking"]
	p, err := sys.Restart(ctx, "booking", "LOG_LEVEL=info")
	if err != nil {
		t.Fatal(err)
	}
	if sys.Procs["booking"] != p || p.Pid() == old.Pid() || p.Addr != old.Addr {
		t.Errorf("after Restart: Procs holds pid %d, new pid %d, old %d, addr %s (was %s)", sys.Procs["booking"].Pid(), p.Pid(), old.Pid(), p.Addr, old.Addr)
	}
	resp, err := http.Get("http://" + p.ProbeAddr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("readyz after restart: %d", resp.StatusCode)
	}

	dataDir := sys.cfg.DataDir
	closed = true
	if err := sys.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case <-p.Done():
	default:
		t.Error("booking still running after Close")
	}
	if _, err := os.Stat(dataDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary data dir %s: %v, want removed", dataDir, err)
	}
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	name := dbURL[strings.LastIndex(dbURL, "/")+1:]
	name, _, _ = strings.Cut(name, "?")
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Errorf("database %s still there after Close", name)
	}
}

// testLog sends the services' lines to the test log.
type testLog struct{ t *testing.T }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
