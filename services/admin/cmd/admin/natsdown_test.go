package main

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/testkit"
)

// TestIntegrationStartsWithNATSDown: the admin service starts while NATS
// is down, answers /readyz 200 with NATS reported degraded, takes a write
// (inviting an admin), and once NATS is up declares its streams, publishes
// the event from its outbox and appends the audit record its consumer
// reads back. Before the lifecycle, start failed with "declare stream
// ADMIN: context deadline exceeded".
func TestIntegrationStartsWithNATSDown(t *testing.T) {
	t.Parallel()
	h := prepare(t, nil)
	h.nats.Shutdown()
	h.run()
	h.waitReady()
	h.openPool()

	code, body := h.readyz()
	if code != http.StatusOK || body.Status != "degraded" || body.Details["nats"] == "ok" || body.Details["streams"] == "ok" {
		t.Fatalf("/readyz with NATS down = %d %+v, want 200, degraded, nats and streams not ok", code, body)
	}

	h.bootstrap("root@example.org")
	root := h.login("root@example.org", rootPassword, "")
	id := h.createAdmin(root.AccessToken, "second@example.org", "admin", "another long password")

	h.nats.Restart()
	h.waitReady("nats", "streams", "consumer_admin-audit")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	testkit.Eventually(t, "admin.account.invited in ADMIN", func() bool {
		s, err := h.js.Stream(ctx, "ADMIN")
		if err != nil {
			return false
		}
		_, err = s.GetLastMsgForSubject(ctx, events.TypeAccountInvited)
		return err == nil
	})
	testkit.Eventually(t, "the audit record of the new admin", func() bool {
		return h.countAudit("entity_id = $1 AND action = 'create'", id) == 1
	})
}
