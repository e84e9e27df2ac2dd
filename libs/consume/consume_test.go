package consume_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/acube/platform/libs/consume"
	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/natstest"
	"github.com/acube/platform/libs/postgres"
	"github.com/acube/platform/libs/postgres/pgtest"
	"github.com/acube/platform/libs/stream"
	"github.com/acube/platform/libs/testkit"
)

const schema = "consumetest"

type env struct {
	pool *pgxpool.Pool
	js   jetstream.JetStream
	// url is the NATS server's, for a second replica's own connection.
	url string
	reg *prometheus.Registry
	m   *consume.Metrics
	log *slog.Logger
}

func setup(t *testing.T) env {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	pool, err := postgres.Open(ctx, postgres.Config{URL: pgtest.NewDatabase(t), Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := postgres.Migrate(ctx, pool, schema, log, consume.Migrations()); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `CREATE TABLE effects (event_id uuid PRIMARY KEY, applied int NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	url := natstest.Start(t).URL()
	nc, js, err := stream.Connect(url, "consume-test", log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	// The services declare DEADLETTER themselves; the test plays them.
	for _, spec := range []stream.Spec{
		{Name: "CONSUMETEST", Subjects: []string{"consumetest.>"}, MaxAge: time.Hour, MaxBytes: 1 << 26},
		stream.DeadLetter(1),
	} {
		if _, err := stream.Ensure(ctx, js, spec); err != nil {
			t.Fatal(err)
		}
	}
	reg := prometheus.NewRegistry()
	m, err := consume.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	return env{pool: pool, js: js, url: url, reg: reg, m: m, log: log}
}

func (e env) run(t *testing.T, cfg consume.Config, h consume.Handler) {
	t.Helper()
	cfg.Stream = "CONSUMETEST"
	if cfg.Durable == "" {
		cfg.Durable = "tester"
	}
	r, err := consume.New(e.pool, e.js, e.m, e.log, cfg, h)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("runner: %v", err)
		}
	})
}

// publish sends ev with the given JetStream message id; a redelivery after
// the duplicate window looks like the same event under a new message id.
func (e env) publish(t *testing.T, ev events.Event, msgID string) {
	t.Helper()
	data, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.js.PublishMsg(context.Background(), &nats.Msg{Subject: ev.Type, Data: data}, jetstream.WithMsgID(msgID)); err != nil {
		t.Fatal(err)
	}
}

func (e env) outcome(t *testing.T, outcome string) float64 {
	t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "consumer_messages_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" && l.GetValue() == outcome {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// counter reads a counter without labels beyond the consumer's.
func (e env) counter(t *testing.T, name string) float64 {
	t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

// applyEffect is a handler whose effect shows how often it ran in effect.
func applyEffect(ctx context.Context, tx pgx.Tx, msg consume.Message) error {
	_, err := tx.Exec(ctx, `INSERT INTO effects (event_id, applied) VALUES ($1, 1)
		ON CONFLICT (event_id) DO UPDATE SET applied = effects.applied + 1`, msg.Event.ID)
	return err
}

func TestIntegrationRedeliveredEventChangesNothing(t *testing.T) {
	e := setup(t)
	e.run(t, consume.Config{}, applyEffect)
	ev, err := events.New("test", "consumetest.thing.happened", map[string]string{"k": "v"})
	if err != nil {
		t.Fatal(err)
	}
	// First delivery, then the same event again past the duplicate window
	// (a new message id) twice.
	for i := range 3 {
		e.publish(t, ev, ev.ID.String()+"#"+strconv.Itoa(i))
	}
	testkit.Eventually(t, "three deliveries handled", func() bool {
		return e.outcome(t, consume.OutcomeProcessed)+e.outcome(t, consume.OutcomeDuplicate) == 3
	})
	var applied int
	if err := e.pool.QueryRow(context.Background(), `SELECT applied FROM effects WHERE event_id = $1`, ev.ID).Scan(&applied); err != nil {
		t.Fatal(err)
	}
	if applied != 1 {
		t.Errorf("effect applied %d times, want 1", applied)
	}
	if got := e.outcome(t, consume.OutcomeDuplicate); got != 2 {
		t.Errorf("duplicates = %v, want 2", got)
	}
}

func TestIntegrationFailingMessageIsDeadLettered(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		wantCalls int64
	}{
		{name: "transient failure exhausts its attempts", err: errors.New("smtp: 421 try later"), wantCalls: 3},
		{name: "permanent failure is dead-lettered at once", err: consume.Permanent(errors.New("smtp: 550 no such user")), wantCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t)
			var calls atomic.Int64
			e.run(t, consume.Config{MaxAttempts: 3, Backoff: []time.Duration{10 * time.Millisecond}},
				func(ctx context.Context, tx pgx.Tx, msg consume.Message) error {
					calls.Add(1)
					if err := applyEffect(ctx, tx, msg); err != nil {
						return err
					}
					return tt.err // rolls the effect back
				})
			ev, _ := events.New("test", "consumetest.thing.failed", nil)
			e.publish(t, ev, ev.ID.String())

			var dl jetstream.RawStreamMsg
			testkit.Eventually(t, "a dead letter", func() bool {
				s, err := e.js.Stream(context.Background(), consume.DeadLetterStream)
				if err != nil {
					return false
				}
				m, err := s.GetLastMsgForSubject(context.Background(), consume.DeadLetterPrefix+"tester")
				if err != nil {
					return false
				}
				dl = *m
				return true
			})
			if got := calls.Load(); got != tt.wantCalls {
				t.Errorf("handler ran %d times, want %d", got, tt.wantCalls)
			}
			if got := dl.Header.Get(consume.HeaderError); got != tt.err.Error() {
				t.Errorf("dead letter error = %q, want %q", got, tt.err.Error())
			}
			if got := dl.Header.Get(consume.HeaderAttempts); got != strconv.FormatInt(tt.wantCalls, 10) {
				t.Errorf("dead letter attempts = %q, want %d", got, tt.wantCalls)
			}
			if got := dl.Header.Get(consume.HeaderOriginalSubject); got != ev.Type {
				t.Errorf("dead letter original subject = %q, want %q", got, ev.Type)
			}
			got, err := events.Decode(dl.Data)
			if err != nil || got.ID != ev.ID {
				t.Errorf("dead letter body is not the original event: %v", err)
			}
			var n int
			_ = e.pool.QueryRow(context.Background(), `SELECT count(*) FROM effects`).Scan(&n)
			if n != 0 {
				t.Errorf("a failed handler left %d effects, want 0", n)
			}
		})
	}
}

func TestIntegrationUndecodableMessageIsDeadLettered(t *testing.T) {
	e := setup(t)
	e.run(t, consume.Config{}, applyEffect)
	if _, err := e.js.Publish(context.Background(), "consumetest.garbage", []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "the garbage dead-lettered", func() bool { return e.outcome(t, consume.OutcomeDeadLettered) == 1 })
}
