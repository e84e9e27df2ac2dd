package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/acube/platform/libs/apispec/apitest"
	libconfig "github.com/acube/platform/libs/config"
	"github.com/acube/platform/libs/logging/logtest"
	"github.com/acube/platform/libs/natstest"
	"github.com/acube/platform/libs/postgres/pgtest"
	"github.com/acube/platform/libs/testkit"
	"github.com/acube/platform/services/booking/internal/migrations"
)

// harness runs booking, run() as main calls it, against its own database
// and in-process NATS server.
type harness struct {
	t    *testing.T
	nats *natstest.Server
	env  map[string]string
	base string
	// api sends the /api requests of a test, each checked against the
	// OpenAPI document; the probes are not part of it.
	api  *http.Client
	logs *logtest.Buffer
	// svc is the running service (run); nil before.
	svc *testkit.Task
}

func prepare(t *testing.T) *harness {
	t.Helper()
	ns := natstest.Start(t)
	addr := testkit.FreeAddr(t)
	// As in production: migrated by the schema's owner, served by the app
	// role, neither with any right on the database itself.
	db := pgtest.NewMigratedService(t, schema, appGroup, migrations.Sets()...)
	h := &harness{t: t, nats: ns, base: "http://" + addr, api: apitest.New(t).Client(), logs: &logtest.Buffer{}, env: map[string]string{
		"BOOKING_ADDR":     addr,
		"DATABASE_URL":     db.AppURL,
		"NATS_URL":         ns.URL(),
		"BOOKING_DATA_DIR": t.TempDir(),
		"SHUTDOWN_GRACE":   "5s",
	}}
	t.Cleanup(func() {
		// Background work (purges, the relay) only logs its failures: a
		// grant the app role lacks would go unseen.
		if strings.Contains(h.logs.String(), "SQLSTATE 42501") {
			t.Error("the service was refused a privilege (SQLSTATE 42501)")
		}
		if t.Failed() {
			t.Logf("service logs:\n%s", h.logs.String())
		}
	})
	return h
}

// run starts the service; it is stopped, as SIGTERM would, when the test
// ends, and must stop cleanly.
func (h *harness) run() {
	h.svc = testkit.Go(h.t, "the booking service", func(ctx context.Context) error { return run(ctx, libconfig.Map(h.env), h.logs) })
}

// readiness is the body of /readyz.
type readiness struct {
	Status  string            `json:"status"`
	Details map[string]string `json:"details"`
}

func (h *harness) readyz() (int, readiness) {
	var body readiness
	resp, err := http.Get(h.base + "/readyz")
	if err != nil {
		return 0, body
	}
	defer resp.Body.Close()
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}

// waitFor polls cond (testkit.Eventually), failing at once if the
// service exits.
func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	testkit.Eventually(h.t, what, cond, testkit.While(h.svc.Alive))
}

// TestIntegrationStartsWithNATSDown: booking starts while NATS is down,
// answers /readyz 200 with NATS reported degraded, books a session, and
// once NATS is up declares its streams and publishes the booking's event
// from the outbox. Before the lifecycle, start failed with "declare stream
// BOOKING: context deadline exceeded" and /readyz was 503 for the whole
// outage.
func TestIntegrationStartsWithNATSDown(t *testing.T) {
	t.Parallel()
	h := prepare(t)
	h.nats.Shutdown()
	h.run()
	var (
		code int
		body readiness
	)
	h.waitFor("/readyz 200 with NATS down", func() bool { code, body = h.readyz(); return code == http.StatusOK })
	if body.Status != "degraded" || body.Details["nats"] == "ok" || body.Details["streams"] == "ok" {
		t.Fatalf("/readyz with NATS down = %+v, want degraded with nats and streams not ok", body)
	}

	date := time.Now().AddDate(0, 0, 10).Format(time.DateOnly)
	req := fmt.Sprintf(`{"email":"jane@example.org","name":"Jane","phone":"1234567","session_type":"individual","preferred_date":%q,"message":"hi"}`, date)
	resp, err := h.api.Post(h.base+"/api/sessions/book", "application/json", strings.NewReader(req))
	if err != nil {
		t.Fatal(err)
	}
	var booked struct {
		ID string `json:"id"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&booked)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("booking with NATS down = %d, want 201", resp.StatusCode)
	}

	h.nats.Restart()
	// The jobs consumer reads ADMIN, which only the admin service
	// declares: it stays a degraded detail here, and readiness holds.
	h.waitFor("nats and streams ok", func() bool {
		code, body = h.readyz()
		return code == http.StatusOK && body.Details["nats"] == "ok" && body.Details["streams"] == "ok"
	})
	if body.Status != "degraded" || body.Details["consumer_booking-jobs"] == "ok" {
		t.Errorf("/readyz without ADMIN = %+v, want degraded by the unbound jobs consumer", body)
	}
	nc, err := nats.Connect(h.nats.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, name := range []string{"BOOKING", "AUDIT", "DEADLETTER"} {
		if _, err := js.Stream(ctx, name); err != nil {
			t.Errorf("stream %s after NATS returned: %v", name, err)
		}
	}
	var data []byte
	h.waitFor("booking.session.booked in BOOKING", func() bool {
		s, err := js.Stream(ctx, "BOOKING")
		if err != nil {
			return false
		}
		m, err := s.GetLastMsgForSubject(ctx, "booking.session.booked")
		if err != nil {
			return false
		}
		data = m.Data
		return true
	})
	if booked.ID == "" || !strings.Contains(string(data), booked.ID) {
		t.Errorf("event %s does not name the booked session %q", data, booked.ID)
	}
}
