package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/acube/platform/libs/apispec/apitest"
	"github.com/acube/platform/libs/natstest"
	"github.com/acube/platform/libs/postgres"
	"github.com/acube/platform/libs/postgres/pgtest"
	"github.com/acube/platform/libs/testkit"
	"github.com/acube/platform/services/admin/internal/migrations"
	"github.com/acube/platform/services/admin/internal/store"
)

// harness runs the whole admin service, run() as main calls it, against
// a fresh database and an in-process JetStream server.
type harness struct {
	t    *testing.T
	env  map[string]string
	base string
	nats *natstest.Server
	nc   *nats.Conn
	js   jetstream.JetStream
	pool *pgxpool.Pool // admin schema as the server's superuser, for assertions
	// db is the test's database: the schema's owner migrated it, the
	// service serves as its app login.
	db   pgtest.Service
	logs *testkit.SyncBuffer
	// svc is the running service (run, start); nil before.
	svc *testkit.Task
	// client validates every exchange with the API against the OpenAPI
	// document (libs/apispec/apitest): a response or status the document
	// does not allow fails the test. plain serves the operational
	// endpoints (/healthz, /readyz, /metrics), which are not in the API.
	client *http.Client
	plain  *http.Client
	// factors are the TOTP keys and recovery codes of the admins that
	// have them, by email (security_helpers_test.go).
	factors map[string]*factor
}

// prepare gives a harness its database, NATS server and environment
// without starting the service.
func prepare(t *testing.T, overrides map[string]string) *harness {
	t.Helper()
	// As in production: migrated by the schema's owner, the service as a
	// login that is only a member of the app role, neither with any right
	// on the database itself (migrate_test.go runs `admin migrate`).
	db := pgtest.NewMigratedService(t, schema, store.AppRole, migrations.Sets()...)
	ns := natstest.Start(t)
	client := apitest.New(t).Client()
	client.Timeout = 30 * time.Second
	h := &harness{t: t, nats: ns, logs: &testkit.SyncBuffer{}, client: client, plain: &http.Client{Timeout: 30 * time.Second}}
	addr := testkit.FreeAddr(t)
	h.base = "http://" + addr
	h.env = map[string]string{
		"ADMIN_ADDR":              addr,
		"DATABASE_URL":            db.AppURL,
		"NATS_URL":                ns.URL(),
		"ADMIN_DATA_DIR":          t.TempDir(),
		"LOG_LEVEL":               "warn",
		"SHUTDOWN_GRACE":          "5s",
		"ADMIN_ARGON2_MEMORY_KIB": "64",
		"ADMIN_ARGON2_TIME":       "1",
		"ADMIN_ARGON2_ALLOW_WEAK": "true",
		// A long first back-off keeps throttling tests free of timing.
		"ADMIN_THROTTLE_BASE": "1m",
	}
	for k, v := range overrides {
		h.env[k] = v
	}
	t.Cleanup(func() {
		// Background work (purges, the outbox listener) only logs its
		// failures: a missing grant of the app role would go unseen.
		if strings.Contains(h.logs.String(), "SQLSTATE 42501") {
			t.Error("the service was refused a privilege (SQLSTATE 42501)")
		}
		if t.Failed() {
			t.Logf("service logs:\n%s", h.logs.String())
		}
	})
	nc, err := nats.Connect(ns.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	h.nc = nc
	if h.js, err = jetstream.New(nc); err != nil {
		t.Fatal(err)
	}
	h.db = db
	return h
}

// newHarness prepares a harness, starts the service and waits until it is
// ready.
func newHarness(t *testing.T, overrides map[string]string) *harness {
	t.Helper()
	h := prepare(t, overrides)
	h.start()
	h.openPool()
	return h
}

// openPool opens the pool assertions use.
func (h *harness) openPool() {
	h.t.Helper()
	pool, err := postgres.Open(context.Background(), postgres.Config{URL: h.db.URL, Schema: schema})
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(pool.Close)
	h.pool = pool
}

// lookupEnv reads the service's environment from h.env, as os.LookupEnv
// reads the process's.
func (h *harness) lookupEnv(k string) (string, bool) {
	v, ok := h.env[k]
	return v, ok
}

// start runs the service and waits until it is ready and its streams and
// audit consumer are up: readiness alone only says HTTP is served.
func (h *harness) start() {
	h.t.Helper()
	h.run()
	h.waitReady("nats", "streams", "consumer_admin-audit")
}

// run starts the service without waiting for it. It is stopped when the
// test ends, and the test fails if it does not stop cleanly.
func (h *harness) run() {
	h.svc = testkit.Go(h.t, "the admin service", func(ctx context.Context) error { return run(ctx, h.lookupEnv, h.logs) })
}

// readiness is the body of /readyz.
type readiness struct {
	Status  string            `json:"status"`
	Details map[string]string `json:"details"`
}

// readyz returns /readyz's status code and body, or 0 when it does not
// answer.
func (h *harness) readyz() (int, readiness) {
	var body readiness
	resp, err := h.plain.Get(h.base + "/readyz")
	if err != nil {
		return 0, body
	}
	defer resp.Body.Close()
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}

// waitReady waits until /readyz answers 200 with each named detail "ok",
// failing at once if the service exits.
func (h *harness) waitReady(details ...string) {
	h.t.Helper()
	testkit.EventuallyErr(h.t, fmt.Sprintf("/readyz 200 with %v ok", details), func() error {
		code, body := h.readyz()
		if code == http.StatusOK && allOK(body.Details, details) {
			return nil
		}
		return fmt.Errorf("/readyz %d %+v", code, body)
	}, testkit.While(h.svc.Alive))
}

func allOK(got map[string]string, names []string) bool {
	for _, n := range names {
		if got[n] != "ok" {
			return false
		}
	}
	return true
}

// stop cancels run as SIGTERM would and waits for it to return; an
// unclean stop fails the test when it ends (testkit.Go).
func (h *harness) stop() {
	if h.svc != nil {
		_ = h.svc.Stop()
	}
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// do sends a request; xff, when set, is the X-Forwarded-For the gateway adds.
func (h *harness) do(method, path, token string, body any, xff string) reply {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, h.base+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	client := h.client
	if !strings.HasPrefix(path, "/api/") {
		client = h.plain
	}
	resp, err := client.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

type session struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int    `json:"expires_in"`
	Admin        struct {
		ID    string `json:"id"`
		Email string `json:"email"`
		Role  string `json:"role"`
	} `json:"admin"`
	// A login that needs a second step answers with these instead.
	MFARequired           bool     `json:"mfa_required"`
	MFAToken              string   `json:"mfa_token"`
	MFAEnrollmentRequired bool     `json:"mfa_enrollment_required"`
	RecoveryCodes         []string `json:"recovery_codes"`
}

const rootPassword = "correct horse battery staple"

// bootstrap runs the bootstrap command as an operator would and keeps
// the TOTP key and recovery codes it prints, for h.login.
func (h *harness) bootstrap(email string) {
	h.t.Helper()
	var out bytes.Buffer
	if err := bootstrap(context.Background(), []string{"--email", email}, h.lookupEnv, strings.NewReader(rootPassword+"\n"), &out); err != nil {
		h.t.Fatalf("bootstrap: %v\n%s", err, out.String())
	}
	h.keepFactor(email, out.String())
}

// login logs in with the password and, when the service asks for it,
// the second factor (a fresh TOTP code, else a recovery code).
func (h *harness) login(email, pw, xff string) session {
	h.t.Helper()
	r := h.do("POST", "/api/admin/auth/login", "", map[string]string{"email": email, "password": pw}, xff)
	if r.status != http.StatusOK {
		h.t.Fatalf("login %s = %d %s", email, r.status, r.body)
	}
	var s session
	r.json(h.t, &s)
	if s.MFARequired {
		return h.secondStep(email, s.MFAToken, xff)
	}
	return s
}

// createAdmin invites an admin as the superadmin and accepts the
// invitation with pw, as the invitee would from the email's link.
func (h *harness) createAdmin(superToken, email, role, pw string) string {
	h.t.Helper()
	id := h.invite(superToken, email, role)
	if r := h.do("POST", "/api/admin/invitations/accept", "", map[string]string{"token": h.invitation(email), "password": pw}, ""); r.status != http.StatusNoContent {
		h.t.Fatalf("accept invitation of %s = %d %s", email, r.status, r.body)
	}
	return id
}

func (h *harness) countAudit(where string, args ...any) int {
	h.t.Helper()
	var n int
	if err := h.pool.QueryRow(context.Background(), "SELECT count(*) FROM audit_log WHERE "+where, args...).Scan(&n); err != nil {
		h.t.Fatal(err)
	}
	return n
}

func discardLogger() *slog.Logger { return slog.New(slog.NewJSONHandler(io.Discard, nil)) }
