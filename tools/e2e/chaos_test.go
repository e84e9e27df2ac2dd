package e2e

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/acube/platform/libs/postgres/pgtest"
	"github.com/acube/platform/libs/smtptest"
	"github.com/acube/platform/tools/internal/chaos"
	"github.com/acube/platform/tools/internal/stack"
)

// TestIntegrationChaosShort is the short variant of `make chaos`
// (docs/chaos.md): a small mixed load while the mailer and then booking
// are SIGKILLed and restarted, and NATS is down for 5 s. It uses a fresh
// database on the shared PostgreSQL and the shared Redis (own key prefix),
// which it never stops, an in-process NATS and SMTP sink. Nothing accepted
// may be lost or stored twice, no email sent under two Message-IDs, and
// only a mailer kill may resend one under the same Message-ID.
func TestIntegrationChaosShort(t *testing.T) {
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
	ns, err := chaos.StartNATS(t.TempDir(), port)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	sink := smtptest.New(t, smtptest.Options{})
	var logs bytes.Buffer
	out := stack.NewOutput(&logs)
	svcs, err := chaos.StartServices(ctx, bin, chaos.Deps{
		DatabaseURL: pgtest.NewDatabase(t),
		NATSURL:     ns.URL(),
		RedisURL:    "redis://127.0.0.1:6379/0",
		RedisPrefix: "chaos-" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":",
		SMTPHost:    sink.Host(),
		SMTPPort:    sink.Port(),
		DataDir:     filepath.Join(t.TempDir(), "data"),
	}, out)
	if err != nil {
		t.Fatalf("%v\n%s", err, logs.String())
	}
	t.Cleanup(func() {
		if err := svcs.Stop(); err != nil {
			t.Errorf("stop services: %v", err)
		}
		if t.Failed() {
			t.Log(logs.String())
		}
	})
	const super, password = "super@chaos.test", "chaos-short-password"
	if err := svcs.Bootstrap(ctx, super, password); err != nil {
		t.Fatal(err)
	}

	client := chaos.NewClient(svcs.URL("gateway"), map[string]string{
		"booking": svcs.URL("booking"), "admin": svcs.URL("admin"), "exporter": svcs.URL("exporter"),
	})
	var progress bytes.Buffer
	rep, err := chaos.Run(ctx, chaos.Config{
		Rate: 10, Requests: 60, Lead: 2 * time.Second, Tail: 4 * time.Second,
		RecoverWithin: time.Minute, SettleWithin: 90 * time.Second,
		SuperEmail: super, SuperPassword: password, Progress: &progress,
	}, chaos.Target{Client: client, Mail: chaos.Sink{S: sink}}, []chaos.Fault{
		chaos.KillService(svcs, "mailer", time.Second),
		chaos.KillService(svcs, "booking", time.Second),
		chaos.StopNATS(ns, 5*time.Second),
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
		t.Error("the chaos run found lost, duplicated or overbooked effects, or a scenario that did not recover (table above)")
	}
}
