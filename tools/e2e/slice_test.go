// Package e2e starts the real service binaries against real PostgreSQL,
// an in-process JetStream server and an in-process SMTP server, and drives
// them through the gateway as a client would.
package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/acube/platform/libs/natstest"
	"github.com/acube/platform/libs/postgres/pgtest"
	"github.com/acube/platform/libs/smtptest"
	"github.com/acube/platform/tools/internal/stack"
)

// system is a running set of services for one test.
type system struct {
	gateway string // base URL
	smtp    *smtptest.Server
	procs   map[string]*stack.Process
}

func start(t *testing.T, names ...string) *system {
	t.Helper()
	if testing.Short() {
		t.Skip("starts the services; skipped under -short")
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root, err := stack.Root(wd)
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := stack.Build(ctx, root, bin, names...); err != nil {
		t.Fatal(err)
	}

	db := pgtest.NewDatabase(t)
	ns := natstest.Start(t)
	sink := smtptest.Start(t)
	addrs := map[string]string{}
	for _, n := range stack.Services() {
		port, err := stack.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		addrs[n] = stack.Addr(port)
	}
	env := []string{
		"DATABASE_URL=" + db,
		"NATS_URL=" + ns.URL(),
		"SMTP_HOST=" + sink.Host(),
		"SMTP_PORT=" + strconv.Itoa(sink.Port()),
		"BOOKING_URL=http://" + addrs["booking"],
		"ADMIN_URL=http://" + addrs["admin"],
		"EXPORTER_URL=http://" + addrs["exporter"],
		"ADMIN_DATA_DIR=" + filepath.Join(t.TempDir(), "admin"),
		"EXPORT_DIR=" + filepath.Join(t.TempDir(), "exports"),
		"REDIS_KEY_PREFIX=e2e-" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":",
		"LOG_LEVEL=warn",
	}
	for _, n := range stack.Services() {
		env = append(env, strings.ToUpper(n)+"_ADDR="+addrs[n])
	}
	out := stack.NewOutput(testWriter{t})
	sys := &system{gateway: "http://" + addrs["gateway"], smtp: sink, procs: map[string]*stack.Process{}}
	for _, n := range stack.Services() { // start order: gateway last
		if !contains(names, n) {
			continue
		}
		p, err := stack.Start(stack.Spec{Name: n, Bin: filepath.Join(bin, n), Env: env, Addr: addrs[n]}, out)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := p.Stop(20 * time.Second); err != nil {
				t.Errorf("stop %s: %v", n, err)
			}
		})
		rctx, rcancel := context.WithTimeout(context.Background(), time.Minute)
		err = p.WaitReady(rctx)
		rcancel()
		if err != nil {
			t.Fatal(err)
		}
		sys.procs[n] = p
	}
	return sys
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// testWriter sends the services' log lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func TestIntegrationBookingReachesTheBookerByEmail(t *testing.T) {
	sys := start(t, "booking", "mailer", "gateway")
	date := time.Now().UTC().AddDate(0, 1, 0).Format(time.DateOnly)
	body := `{"email":"test@example.com","name":"Test","phone":"1234567890","session_type":"individual","preferred_date":"` + date + `","message":"Test"}`

	resp, err := http.Post(sys.gateway+"/api/sessions/book", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("book: status %d, body %s", resp.StatusCode, raw)
	}
	var booked struct {
		ID     string `json:"id"`
		Email  string `json:"email"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal(raw, &booked); err != nil {
		t.Fatal(err)
	}
	if booked.ID == "" || booked.Email != "test@example.com" || booked.Status != "pending" {
		t.Fatalf("booking answer %s", raw)
	}
	if resp.Header.Get("X-Request-ID") == "" {
		t.Error("no X-Request-ID on the answer")
	}

	msgs := sys.smtp.WaitFor(t, 1)
	m := msgs[0]
	if len(m.To) != 1 || m.To[0] != "test@example.com" {
		t.Errorf("email to %v, want test@example.com", m.To)
	}
	if !strings.Contains(strings.ToLower(m.Header.Get("Subject")), "session") {
		t.Errorf("subject %q does not mention the session", m.Header.Get("Subject"))
	}
	if !strings.Contains(string(m.Raw), booked.ID) {
		t.Errorf("the email does not carry the booking id %s", booked.ID)
	}

	// No second email for the same booking.
	time.Sleep(500 * time.Millisecond)
	if n := len(sys.smtp.Messages()); n != 1 {
		t.Errorf("%d emails for one booking, want 1", n)
	}
}

func TestIntegrationGatewayRoutesEveryOwnerAndHidesTheirOps(t *testing.T) {
	sys := start(t, "booking", "gateway")
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
			resp, err := http.DefaultClient.Do(req)
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
