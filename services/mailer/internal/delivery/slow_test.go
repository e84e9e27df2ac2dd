package delivery_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	netmail "net/mail"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/acube/platform/libs/consume"
	"github.com/acube/platform/libs/natstest"
	"github.com/acube/platform/libs/postgres"
	"github.com/acube/platform/libs/postgres/pgtest"
	"github.com/acube/platform/libs/smtptest"
	"github.com/acube/platform/libs/stream"
	"github.com/acube/platform/libs/testkit"
	"github.com/acube/platform/services/mailer/internal/delivery"
	"github.com/acube/platform/services/mailer/internal/email"
	"github.com/acube/platform/services/mailer/internal/migrations"
	"github.com/acube/platform/services/mailer/internal/sender"
	"github.com/acube/platform/services/mailer/internal/templates"
)

// TestIntegrationSlowSMTP runs the BOOKING consumer against an SMTP server
// that takes 2.5 s per message, with an AckWait of 4 s and batches of 8:
// the 8 events must make exactly 8 emails and 8 delivery rows, and no
// dead letter, however long each email waits for one of the two
// connections.
func TestIntegrationSlowSMTP(t *testing.T) {
	t.Parallel()
	const n = 8
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	sink := smtptest.New(t, smtptest.Options{Delay: 2500 * time.Millisecond})

	pool, err := postgres.Open(ctx, postgres.Config{URL: pgtest.NewMigrated(t, "mailer", migrations.Sets()...), Schema: "mailer"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	nc, js, err := stream.Connect(natstest.Start(t).URL(), "slow-smtp-test", log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	for _, spec := range []stream.Spec{stream.Booking(1), stream.DeadLetter(1)} {
		if _, err := stream.Ensure(ctx, js, spec); err != nil {
			t.Fatal(err)
		}
	}

	set, err := templates.Load()
	if err != nil {
		t.Fatal(err)
	}
	composer, err := email.NewComposer(set, "https://acube.example", testLinks(t), time.UTC, "acube.local")
	if err != nil {
		t.Fatal(err)
	}
	from, _ := netmail.ParseAddress("A-Cube <no-reply@acube.local>")
	snd, err := sender.NewSMTP(sender.SMTPConfig{Host: sink.Host(), Port: sink.Port()}, from, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = snd.Close() })
	reg := prometheus.NewRegistry()
	dm, err := delivery.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	cm, err := consume.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	h := delivery.New(composer, snd, nil, dm, log)
	cc := delivery.Consumers()[0]
	cc.AckWait, cc.BatchSize, cc.MaxAttempts = 4*time.Second, n, 5
	cc.Backoff = []time.Duration{100 * time.Millisecond}
	runner, err := consume.NewEffect(pool, js, cm, log, cc, h.Effect())
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runner.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("runner: %v", err)
		}
	})

	var last uint64
	for i := range n {
		ev := booked(t, "slow"+string(rune('a'+i))+"@example.com").Event
		body, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		ack, err := js.Publish(ctx, ev.Subject(), body, jetstream.WithMsgID(ev.ID.String()))
		if err != nil {
			t.Fatal(err)
		}
		last = ack.Sequence
	}
	// Settled: the consumer acknowledged or terminated every message, so
	// the counts below are final.
	natstest.WaitAcked(t, js, cc.Stream, cc.Durable, last,
		testkit.Explain(func() string { return fmt.Sprintf("the sink has %d messages", sink.Count()) }))

	var rows int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM deliveries`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	dl, err := js.Stream(ctx, consume.DeadLetterStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := dl.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		got, want int
	}{
		{name: "SMTP messages", got: sink.Count(), want: n},
		{name: "delivery rows", got: rows, want: n},
		{name: "dead letters", got: int(info.State.Msgs), want: 0},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
}
