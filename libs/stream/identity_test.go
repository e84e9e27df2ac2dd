package stream_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/acube/platform/libs/logging/logtest"
	"github.com/acube/platform/libs/natstest"
	"github.com/acube/platform/libs/stream"
	"github.com/acube/platform/libs/stream/streamtest"
	"github.com/acube/platform/libs/testkit"
)

// session is one identity's connection and what it logged.
type session struct {
	nc   *nats.Conn
	js   jetstream.JetStream
	log  *slog.Logger
	logs *logtest.Buffer
}

// connect connects as svc, as its main does, and waits until the server
// has accepted it.
func connect(t *testing.T, s *streamtest.Server, svc string) session {
	t.Helper()
	log, logs := logtest.NewLogger()
	nc, js := s.Connect(t, svc, log)
	logs.WaitFor(t, "nats connected", nil)
	return session{nc: nc, js: js, log: log, logs: logs}
}

// violations flushes the connection, so the server has answered every
// publish and subscription sent before, and returns the permission
// violations it reported (the server reports them only asynchronously;
// stream.Connect logs each as "nats error").
func (s session) violations(t *testing.T) []string {
	t.Helper()
	if err := s.nc.Flush(); err != nil {
		t.Fatalf("flush: %v", err)
	}
	var out []string
	for _, l := range logtest.Find(s.logs.Lines(t), "nats error", nil) {
		if strings.Contains(strings.ToLower(l.Str("error")), "permissions violation") {
			out = append(out, l.Str("error"))
		}
	}
	return out
}

// TestIntegrationBookingCannotRequestAJob is the case: booking runs
// the bulk jobs that admin.job.requested asks for without asking who
// asked, so only the admin may publish it. Booking's identity publishing
// it gets no acknowledgement, the server reports a permission violation,
// and ADMIN holds nothing; the admin's identity publishes it.
func TestIntegrationBookingCannotRequestAJob(t *testing.T) {
	t.Parallel()
	s := streamtest.Start(t)
	admin := connect(t, s, "admin")
	ctx := context.Background()
	if _, err := stream.Ensure(ctx, admin.js, stream.Admin(1)); err != nil {
		t.Fatal(err)
	}

	booking := connect(t, s, "booking")
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second) // bounds the wait for an ack that cannot come
	_, err := booking.js.Publish(pctx, "admin.job.requested", []byte(`{"forged":true}`))
	cancel()
	if err == nil {
		t.Fatal("booking published admin.job.requested")
	}
	if last := booking.nc.LastError(); !errors.Is(last, nats.ErrPermissionViolation) || !strings.Contains(last.Error(), `"admin.job.requested"`) {
		t.Errorf("connection's last error = %v, want a permission violation for admin.job.requested", last)
	}
	if v := booking.violations(t); len(v) != 1 {
		t.Errorf("booking's log shows %d permission violations, want the one: %v", len(v), v)
	}
	if n := messages(t, admin.js, "ADMIN"); n != 0 {
		t.Fatalf("ADMIN holds %d messages after booking's attempt", n)
	}

	if _, err := admin.js.Publish(ctx, "admin.job.requested", []byte(`{}`)); err != nil {
		t.Fatalf("admin publishes admin.job.requested: %v", err)
	}
	if n := messages(t, admin.js, "ADMIN"); n != 1 {
		t.Errorf("ADMIN holds %d messages, want the admin's one", n)
	}
}

func messages(t *testing.T, js jetstream.JetStream, name string) uint64 {
	t.Helper()
	s, err := js.Stream(context.Background(), name)
	if err != nil {
		t.Fatalf("stream %s: %v", name, err)
	}
	return s.CachedInfo().State.Msgs
}

// TestIntegrationIdentitiesAreRefusedTheRest: each identity is refused
// what another service does or what no service does. Each case sends the
// request the client library would (a publish or a JetStream API call) and
// expects the server's permission violation, so a case cannot pass by
// merely timing out.
func TestIntegrationIdentitiesAreRefusedTheRest(t *testing.T) {
	t.Parallel()
	s := streamtest.Start(t)
	tests := []struct {
		name    string
		as      string
		publish string // a subject to publish to, or
		sub     string // a subject to subscribe to
	}{
		{name: "mailer purges AUDIT", as: "mailer", publish: "$JS.API.STREAM.PURGE.AUDIT"},
		{name: "mailer forges a booking", as: "mailer", publish: "booking.session.booked"},
		{name: "mailer forges an audit record", as: "mailer", publish: "audit.admin_account.create"},
		{name: "exporter reads BOOKING with a consumer", as: "exporter", publish: "$JS.API.CONSUMER.CREATE.BOOKING.peek"},
		{name: "exporter reads a BOOKING message", as: "exporter", publish: "$JS.API.STREAM.MSG.GET.BOOKING"},
		{name: "exporter pulls the admin's audit consumer", as: "exporter", publish: "$JS.API.CONSUMER.MSG.NEXT.AUDIT.admin-audit"},
		{name: "exporter redefines the admin's audit consumer", as: "exporter", publish: "$JS.API.CONSUMER.CREATE.AUDIT.admin-audit.audit.>"},
		{name: "exporter deletes the admin's audit consumer", as: "exporter", publish: "$JS.API.CONSUMER.DELETE.AUDIT.admin-audit"},
		{name: "booking widens its job consumer to all of ADMIN", as: "booking", publish: "$JS.API.CONSUMER.CREATE.ADMIN.booking-jobs"},
		{name: "booking changes AUDIT, the admin's", as: "booking", publish: "$JS.API.STREAM.UPDATE.AUDIT"},
		{name: "booking deletes its own stream", as: "booking", publish: "$JS.API.STREAM.DELETE.BOOKING"},
		{name: "booking reads the exporter's files", as: "booking", publish: "$JS.API.CONSUMER.CREATE.OBJ_EXPORTS.x.$O.EXPORTS.C.x"},
		{name: "booking reads the admin's replies", as: "booking", sub: "_INBOX_admin.>"},
		{name: "booking listens to every booking", as: "booking", sub: "booking.>"},
		{name: "admin acks for the mailer", as: "admin", publish: "$JS.ACK.BOOKING.mailer-booking.1.1.1.1.0"},
		{name: "admin purges the dead letters", as: "admin", publish: "$JS.API.STREAM.PURGE.DEADLETTER"},
		{name: "mailer's dead letter posing as booking's", as: "mailer", publish: "deadletter.booking-jobs"},
	}
	sessions := map[string]session{}
	for _, tt := range tests {
		if _, ok := sessions[tt.as]; !ok {
			sessions[tt.as] = connect(t, s, tt.as)
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := sessions[tt.as]
			want := "Publish to " + strconv.Quote(tt.publish)
			var err error
			if tt.sub != "" {
				want = "Subscription to " + strconv.Quote(tt.sub)
				var sub *nats.Subscription
				sub, err = c.nc.SubscribeSync(tt.sub)
				if sub != nil {
					defer func() { _ = sub.Unsubscribe() }()
				}
			} else {
				err = c.nc.PublishRequest(tt.publish, c.nc.NewRespInbox(), []byte(`{}`))
			}
			if err != nil {
				t.Fatal(err)
			}
			// The server answers in order: its -ERR comes before the
			// flush's PONG, and sets the connection's last error.
			if err := c.nc.Flush(); err != nil {
				t.Fatal(err)
			}
			if last := c.nc.LastError(); !errors.Is(last, nats.ErrPermissionViolation) || !strings.Contains(last.Error(), want) {
				t.Errorf("last error %v, want a permission violation for %s", last, want)
			}
		})
	}
}

// TestIntegrationUnknownKeyIsRefused: a key the server does not know, or
// none, is refused at connect, and the client keeps trying instead of
// giving up after two refusals as a default client does: once the
// servers learn the key (a rotation applied to the servers after the
// service got its new seed), it connects without a restart.
func TestIntegrationUnknownKeyIsRefused(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"unknown key", "no key"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := streamtest.Start(t)
			newcomer, err := stream.NewNKey()
			if err != nil {
				t.Fatal(err)
			}
			var opts []stream.ConnectOption
			if name == "unknown key" {
				path := filepath.Join(t.TempDir(), "newcomer.nk")
				if err := newcomer.WriteSeed(path); err != nil {
					t.Fatal(err)
				}
				opts = append(opts, stream.NKeyFile(path))
			}
			log, logs := logtest.NewLogger()
			nc, _, err := stream.Connect(s.URL(), "booking", log, opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			testkit.Eventually(t, "two refusals", func() bool { return s.Refusals() >= 2 })
			if nc.IsConnected() || nc.IsClosed() {
				t.Fatalf("connected %v, closed %v; want neither: refused and still trying", nc.IsConnected(), nc.IsClosed())
			}
			if err := stream.Ready(nc); !errors.Is(err, nats.ErrAuthorization) {
				t.Errorf("readiness detail %v, want it to name the refusal", err)
			}
			if line := logs.WaitFor(t, "nats connect failed; retrying", nil); !strings.Contains(strings.ToLower(line.Str("error")), "authorization violation") {
				t.Errorf("logged %q, want the refusal", line.Str("error"))
			}
			if name == "no key" {
				return
			}
			keys := map[string]string{"booking": newcomer.Public}
			conf, err := stream.ServerConfig(keys)
			if err != nil {
				t.Fatal(err)
			}
			s.Reload(conf)
			logs.WaitFor(t, "nats connected", nil)
		})
	}
}

// TestIntegrationTLS: with the server's authority (NATS_CA_FILE) the
// identity connects over TLS; without it the server's certificate is not
// trusted and nothing is sent.
func TestIntegrationTLS(t *testing.T) {
	t.Parallel()
	s := streamtest.Start(t, natstest.WithTLS())
	if !strings.HasPrefix(s.URL(), "tls://") {
		t.Fatalf("url %s", s.URL())
	}
	c := connect(t, s, "booking")
	if _, err := stream.Ensure(context.Background(), c.js, stream.Booking(1)); err != nil {
		t.Fatalf("declare BOOKING over TLS: %v", err)
	}
	if tls, err := c.nc.TLSConnectionState(); err != nil || !tls.HandshakeComplete {
		t.Errorf("connection TLS state %+v, %v", tls, err)
	}

	log, logs := logtest.NewLogger()
	nc, _, err := stream.Connect(s.URL(), "booking", log, stream.NKeyFile(s.Seed("booking")))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	line := logs.WaitFor(t, "nats connect failed; retrying", nil)
	if !strings.Contains(line.Str("error"), "certificate") || nc.IsConnected() {
		t.Errorf("without the authority: %q, connected %v; want the certificate refused", line.Str("error"), nc.IsConnected())
	}
}

// TestRedact: credentials in a NATS URL list never reach a log.
func TestRedact(t *testing.T) {
	got := stream.Redact("nats://svc:pw@a:4222, tls://tok@b:4222,nats://c:4222")
	if want := "nats://svc:xxxxx@a:4222,tls://xxxxx@b:4222,nats://c:4222"; got != want {
		t.Errorf("Redact = %q, want %q", got, want)
	}
	if slices.ContainsFunc([]string{"pw", "tok"}, func(s string) bool { return strings.Contains(got, s+"@") }) {
		t.Errorf("credentials in %q", got)
	}
}
