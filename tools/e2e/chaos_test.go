package e2e

import (
	"bytes"
	"context"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/acube/platform/libs/postgres/pgtest"
	"github.com/acube/platform/libs/smtptest"
	"github.com/acube/platform/tools/internal/adminflow"
	"github.com/acube/platform/tools/internal/chaos"
	"github.com/acube/platform/tools/internal/stack"
)

// TestIntegrationChaosShort is the short variant of `make chaos`
// (docs/chaos.md): a small mixed load while the mailer and then booking
// are SIGKILLed and restarted, NATS is down for 5 s, the SMTP side is slow
// past the mailer's handler deadline for 20 s, and DEADLETTER captures
// nothing for 15 s while some emails are refused for good. It uses a fresh
// database on the shared PostgreSQL and the shared Redis (own key prefix),
// which it never stops, an in-process NATS and SMTP sink behind the run's
// SMTP fault proxy. Nothing accepted may be lost or stored twice, no email
// sent under two Message-IDs, only a mailer kill may resend one under the
// same Message-ID, and every refused email must be in DEADLETTER.
func TestIntegrationChaosShort(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the services; skipped under -short")
	}
	root := stack.TestRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin := t.TempDir()
	if err := stack.Build(ctx, root, bin, stack.Services()...); err != nil {
		t.Fatal(err)
	}

	port, err := stack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	ns, err := stack.StartNATS(t.TempDir(), port)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	sink := smtptest.New(t, smtptest.Options{})
	smtp, err := chaos.StartSMTPProxy(sink.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = smtp.Close() })
	var logs bytes.Buffer
	out := stack.NewOutput(&logs)
	svcs, err := chaos.StartServices(ctx, bin, chaos.Deps{
		DatabaseURL: pgtest.NewDatabase(t),
		NATSURL:     ns.URL(),
		RedisURL:    "redis://127.0.0.1:6379/0",
		RedisPrefix: "chaos-" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":",
		SMTPHost:    smtp.Host(),
		SMTPPort:    smtp.Port(),
		DataDir:     filepath.Join(t.TempDir(), "data"),
		Env:         map[string][]string{"mailer": chaos.MailerEnv()},
	}, out)
	if err != nil {
		t.Fatalf("%v\n%s", err, logs.String())
	}
	t.Cleanup(func() {
		if err := svcs.Close(); err != nil {
			t.Errorf("stop services: %v", err)
		}
		if t.Failed() {
			t.Log(logs.String())
		}
	})
	// A password nobody chose: the service refuses one that contains the
	// email's local part or the name ("Chaos"), or a common one.
	super, password := "super@chaos.test", adminflow.RandomPassword()
	secret, err := svcs.Bootstrap(ctx, super, password)
	if err != nil {
		t.Fatal(err)
	}

	client := chaos.NewClient(svcs.URL("gateway"), map[string]string{
		"booking": svcs.URL("booking"), "admin": svcs.URL("admin"), "exporter": svcs.URL("exporter"),
	})
	client.SetTOTP(super, secret)
	var progress bytes.Buffer
	rep, err := chaos.Run(ctx, chaos.Config{
		Rate: 10, Requests: 60, Lead: 2 * time.Second, Tail: 4 * time.Second,
		RecoverWithin: time.Minute, SettleWithin: 90 * time.Second,
		SuperEmail: super, SuperPassword: password, Progress: &progress,
	}, chaos.Target{Client: client, Mail: chaos.Sink{S: sink}, Arrivals: smtp.Arrivals}, []chaos.Fault{
		chaos.KillService(svcs, "mailer", time.Second),
		chaos.KillService(svcs, "booking", time.Second),
		chaos.StopNATS(ns, 5*time.Second),
		// 35 s: past the mailer's handler deadline (its consumers' 30 s
		// AckWait, which no MAILER_* variable shortens yet); the fault
		// itself lasts 20 s, the short variant's "less than 30 s".
		chaos.SlowSMTP(smtp, 35*time.Second, 20*time.Second),
		// 15 s: longer than a consumer's redeliveries of a message it
		// cannot dead-letter last (MaxAttempts+5 at 1 s), so a runner that
		// lets go of such a message loses it.
		chaos.DeadLetterOutage(ns.URL(), 15*time.Second),
	})
	t.Log(progress.String())
	if err != nil {
		t.Fatal(err)
	}
	var table bytes.Buffer
	rep.Print(&table)
	t.Log("\n" + table.String())
	for _, r := range rep.Rows {
		if r.Accepted == 0 {
			t.Errorf("%s: nothing accepted", r.Scenario)
		}
	}
	if rep.Failed() {
		t.Error("the chaos run found lost, duplicated, misordered or overbooked effects, refusals where nothing was stopped, unmet checks, or a scenario that did not recover (table above)")
	}
}
