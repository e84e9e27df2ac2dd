// Package e2e starts the real service binaries against real PostgreSQL,
// an in-process JetStream server and an in-process SMTP server, and drives
// them through the gateway as a client would.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/mail"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/acube/platform/libs/apispec/apitest"
	"github.com/acube/platform/libs/natstest"
	"github.com/acube/platform/libs/postgres/pgtest"
	"github.com/acube/platform/libs/smtptest"
	"github.com/acube/platform/tools/internal/chaos"
	"github.com/acube/platform/tools/internal/stack"
)

// system is the platform started for one test (stack.StartSystem), with
// what the tests reach for by short names.
type system struct {
	gateway string // base URL
	// http calls the gateway and validates every exchange against the
	// OpenAPI document (libs/apispec/apitest): a test fails on any
	// answer the document does not describe.
	http *http.Client
	smtp *smtptest.Sink
	// procs is the launcher's own map: a test that restarts a service
	// and puts the new process here has it stopped at the end too.
	procs map[string]*stack.Process
	bin   string // where the binaries are
	run   *stack.System
}

// envOf is service n's environment: the shared one and its database
// login, its app role.
func (s *system) envOf(n string) []string { return s.run.EnvOf(n) }

// start builds the named services and starts them with everything they
// need, each on a database, NATS server, SMTP sink and Redis keys of the
// test's own; all is stopped when the test ends.
func start(t *testing.T, names ...string) *system {
	t.Helper()
	if testing.Short() {
		t.Skip("starts the services; skipped under -short")
	}
	root := stack.TestRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	run, err := stack.StartSystem(ctx, stack.SystemConfig{
		Root: root, Services: names, Bin: t.TempDir(), Build: true, DataDir: t.TempDir(),
		DatabaseURL: pgtest.NewDatabase(t), Name: "e2e",
		Env: []string{"LOG_LEVEL=warn"}, Output: testWriter{t},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := run.Close(); err != nil {
			t.Errorf("stop the system: %v", err)
		}
	})
	return &system{gateway: run.Gateway, http: apitest.New(t).Client(), smtp: run.Sink, procs: run.Procs, bin: run.Bin, run: run}
}

// bookResponse is the part of POST /api/sessions/book's answer tests read.
type bookResponse struct {
	ID     string `json:"id"`
	Email  string `json:"email"`
	Status string `json:"status"`
}

// book books a session through the gateway, as the seed's curl does, and
// checks the answer.
func (s *system) book(t *testing.T, email string) bookResponse {
	t.Helper()
	date := time.Now().UTC().AddDate(0, 1, 0).Format(time.DateOnly)
	body := `{"email":"` + email + `","name":"Test","phone":"1234567890","session_type":"individual","preferred_date":"` + date + `","message":"Test"}`
	resp, err := s.http.Post(s.gateway+"/api/sessions/book", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("book: status %d, body %s", resp.StatusCode, raw)
	}
	var booked bookResponse
	if err := json.Unmarshal(raw, &booked); err != nil {
		t.Fatal(err)
	}
	if booked.ID == "" || booked.Email != email || booked.Status != "pending" {
		t.Fatalf("booking answer %s", raw)
	}
	if resp.Header.Get("X-Request-ID") == "" {
		t.Error("no X-Request-ID on the answer")
	}
	return booked
}

// testWriter sends the services' log lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func TestIntegrationBookingReachesTheBookerByEmail(t *testing.T) {
	sys := start(t, stack.Services()...)
	booked := sys.book(t, "test@example.com")

	wctx, wcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer wcancel()
	if err := sys.smtp.WaitCount(wctx, 1); err != nil {
		t.Fatal(err)
	}
	m := sys.smtp.Messages()[0]
	parsed, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.To) != 1 || m.To[0] != "test@example.com" {
		t.Errorf("email to %v, want test@example.com", m.To)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(parsed.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.ToLower(subject), "session") {
		t.Errorf("subject %q does not mention the session", subject)
	}
	if !strings.Contains(string(m.Data), booked.ID) {
		t.Errorf("the email does not carry the booking id %s", booked.ID)
	}

	// The mailer minted the manage link (booking's event carries only the
	// id and the link's expiry); booking, sharing the secret, opens it.
	texts, err := chaos.Sink{S: sys.smtp}.Texts(wctx, "test@example.com")
	if err != nil || len(texts) != 1 {
		t.Fatalf("texts %d, %v", len(texts), err)
	}
	var link *url.URL
	for _, f := range strings.Fields(texts[0]) {
		if strings.Contains(f, "/manage/sessions/"+booked.ID+"?token=") {
			if link, err = url.Parse(f); err != nil {
				t.Fatal(err)
			}
		}
	}
	if link == nil {
		t.Fatalf("no manage link in:\n%s", texts[0])
	}
	res, err := sys.http.Get(sys.gateway + link.Path + "?" + link.RawQuery)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("the emailed manage link answers %d, want 200", res.StatusCode)
	}

	// No second email for the same booking. The mailer sends before it
	// acknowledges, so once its consumer has acknowledged everything in
	// BOOKING up to now, every email those events make is in the sink: a
	// duplicate, however late, is counted (a sleep would miss it).
	nc, err := nats.Connect(sys.run.NATSURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	natstest.WaitAcked(t, js, "BOOKING", "mailer-booking", natstest.LastSeq(t, js, "BOOKING"))
	if n := len(sys.smtp.Messages()); n != 1 {
		t.Errorf("%d emails for one booking, want 1", n)
	}
}

func TestIntegrationGatewayRoutesEveryOwnerAndHidesTheirOps(t *testing.T) {
	sys := start(t, stack.Services()...)
	tests := []struct {
		name, method, path string
		want               int
	}{
		{name: "booking owns events", method: http.MethodGet, path: "/api/events", want: 0},
		{name: "unknown api path", method: http.MethodGet, path: "/api/nope", want: http.StatusNotFound},
		{name: "service metrics are not proxied", method: http.MethodGet, path: "/api/../metrics", want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, sys.gateway+tt.path, nil)
			resp, err := sys.http.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") && !strings.HasPrefix(ct, "text/plain; version") {
				t.Errorf("content type %q", ct)
			}
			if tt.want != 0 && resp.StatusCode != tt.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.want)
			}
		})
	}
}
