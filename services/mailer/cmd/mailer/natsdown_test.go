package main

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/acube/platform/libs/smtptest"
	"github.com/acube/platform/libs/testkit"
)

// TestIntegrationStartsWithNATSDown: the mailer starts while NATS is down
// and answers /readyz 200 with NATS reported degraded; once NATS is up it
// declares DEADLETTER, binds its consumers and sends the email of an event
// published then. Before the lifecycle its /readyz was 503 for the whole
// outage and its consumers' dead-letter declaration ended the process.
func TestIntegrationStartsWithNATSDown(t *testing.T) {
	t.Parallel()
	sink := smtptest.New(t, smtptest.Options{})
	h := prepare(t, sink)
	h.nats.Shutdown()
	h.run()
	var body readiness
	testkit.EventuallyErr(t, "/readyz 200 with NATS down", func() error {
		var code int
		if code, body = h.readyz(); code != http.StatusOK {
			return fmt.Errorf("/readyz %d %+v", code, body)
		}
		return nil
	}, h.alive()...)
	if body.Status != "degraded" || body.Details["nats"] == "ok" || body.Details["streams"] == "ok" {
		t.Fatalf("/readyz with NATS down = %+v, want degraded with nats and streams not ok", body)
	}

	h.nats.Restart()
	h.waitReady()
	if _, err := h.js.Stream(h.ctx, "DEADLETTER"); err != nil {
		t.Fatalf("DEADLETTER after NATS returned: %v", err)
	}
	h.publish(booked(t, "user@example.com", "Jane"), "")
	h.settle("BOOKING", "mailer-booking")
	if got := len(sink.Messages()); got != 1 {
		t.Fatalf("sink got %d messages, want 1", got)
	}
}
