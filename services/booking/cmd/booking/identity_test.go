package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/acube/platform/libs/consume"
	"github.com/acube/platform/libs/natstest"
	"github.com/acube/platform/libs/stream"
	"github.com/acube/platform/libs/stream/streamtest"
)

// TestIntegrationRunsUnderItsNATSIdentity runs booking as production does:
// with its own NKey (NATS_NKEY_FILE) over TLS (NATS_CA_FILE) on a server
// that knows every service's identity and permissions. It declares its
// streams and bucket, binds its job consumer, follows the admin's token
// revocations, publishes a booking's event and dead-letters a job request
// it cannot read, and the server refuses none of its requests: a
// permission the table misses for booking fails here.
func TestIntegrationRunsUnderItsNATSIdentity(t *testing.T) {
	t.Parallel()
	h := prepare(t)
	ns := streamtest.Start(t, natstest.WithTLS())
	t.Cleanup(func() { // after the service has stopped (cleanups run in reverse)
		for _, line := range ns.Errors() {
			if strings.Contains(line, "Violation") {
				t.Errorf("the server refused booking a request: %s", line)
			}
		}
	})
	h.nats = ns.Server
	h.env["NATS_URL"] = ns.URL()
	h.env["NATS_NKEY_FILE"] = ns.Seed("booking")
	h.env["NATS_CA_FILE"] = ns.CAFile()

	// ADMIN is the admin's stream: the admin declares it, under its own
	// identity, and requests a job booking cannot read.
	quiet := slog.New(slog.DiscardHandler)
	_, adminJS := ns.Connect(t, "admin", quiet)
	ctx := context.Background()
	if err := stream.EnsureAll(ctx, adminJS, stream.Admin(1), stream.Audit(1), stream.DeadLetter(1)); err != nil {
		t.Fatal(err)
	}
	h.run()
	var body readiness
	h.waitFor("/readyz ready, every detail ok", func() bool {
		var code int
		code, body = h.readyz()
		return code == http.StatusOK && body.Status == "ready"
	})

	date := time.Now().AddDate(0, 0, 10).Format(time.DateOnly)
	req := fmt.Sprintf(`{"email":"jane@example.org","name":"Jane","phone":"1234567","session_type":"individual","preferred_date":%q,"message":"hi"}`, date)
	resp, err := h.api.Post(h.base+"/api/sessions/book", "application/json", strings.NewReader(req))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("book = %d, want 201", resp.StatusCode)
	}
	if _, err := adminJS.Publish(ctx, "admin.job.requested", []byte(`not an event`)); err != nil {
		t.Fatal(err)
	}

	// The operators' identity reads what booking wrote.
	_, ops := ns.Connect(t, stream.Ops, quiet)
	for subject, name := range map[string]string{
		"booking.session.booked":                  stream.Booking(1).Name,
		consume.DeadLetterPrefix + "booking-jobs": stream.DeadLetter(1).Name,
	} {
		h.waitFor(subject+" in "+name, func() bool {
			s, err := ops.Stream(ctx, name)
			if err != nil {
				return false
			}
			_, err = s.GetLastMsgForSubject(ctx, subject)
			return err == nil
		})
	}
}
