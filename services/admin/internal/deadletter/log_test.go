package deadletter_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/acube/platform/libs/consume"
	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/logging/logtest"
	"github.com/acube/platform/libs/natstest"
	"github.com/acube/platform/libs/postgres"
	"github.com/acube/platform/libs/postgres/pgtest"
	"github.com/acube/platform/libs/stream"
	"github.com/acube/platform/libs/testkit"
	"github.com/acube/platform/services/admin/internal/deadletter"
	"github.com/acube/platform/services/admin/internal/migrations"
	"github.com/acube/platform/services/admin/internal/store"
)

// TestIntegrationReplayLogsBackgroundJobLines dead-letters an event with
// a real consumer, replays it, and replays a letter that names no
// subject, reading the "BACKGROUND JOB" lines an operator would grep.
func TestIntegrationReplayLogsBackgroundJobLines(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := postgres.Open(ctx, postgres.Config{URL: pgtest.NewMigrated(t, "admin", migrations.Sets()...), Schema: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))
	ns := natstest.Start(t)
	nc, js, err := stream.Connect(ns.URL(), "test", quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	// The admin service owns the dead-letter stream and declares it.
	for _, spec := range []stream.Spec{stream.DeadLetter(1),
		{Name: "TESTSRC", Subjects: []string{"test.>"}, MaxAge: time.Hour, MaxBytes: 1 << 20}} {
		if _, err := stream.Ensure(ctx, js, spec); err != nil {
			t.Fatal(err)
		}
	}
	m, err := consume.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	runnerLog, runnerLogs := logtest.NewLogger()
	runner, err := consume.New(pool, js, m, runnerLog, consume.Config{Stream: "TESTSRC", Durable: "test-fail"},
		func(context.Context, pgx.Tx, consume.Message) error {
			return consume.Permanent(errors.New("downstream refuses"))
		})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = runner.Run(runCtx); close(done) }()
	t.Cleanup(func() { stop(); <-done })

	ev, err := events.New("test", "test.thing.happened", map[string]int{"n": 1})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "test.thing.happened", raw); err != nil {
		t.Fatal(err)
	}
	log, logs := logtest.NewLogger()
	svc := deadletter.NewService(js, store.NewDeadLetters(pool), time.Now, deadletter.WithLogger(log))
	var letters []deadletter.Letter
	testkit.EventuallyErr(t, "the event dead-lettered", func() error {
		var err error
		letters, _, err = svc.List(ctx, "test-fail", 0, 10)
		if err == nil && len(letters) == 0 {
			err = errors.New("no letter yet")
		}
		return err
	}, testkit.Explain(func() string { return "the consumer's log:\n" + runnerLogs.String() }))
	actor := deadletter.Actor{ID: "adm-1", Email: "root@example.org", ClientIP: "192.0.2.1"}
	seq := letters[0].Seq
	_, msgID, err := svc.Replay(ctx, actor, seq)
	if err != nil {
		t.Fatal(err)
	}

	// A letter without its consumer's headers names no subject to replay to.
	ack, err := js.Publish(ctx, consume.DeadLetterPrefix+"test-fail", raw)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Replay(ctx, actor, ack.Sequence); !errors.Is(err, deadletter.ErrNoSubject) {
		t.Fatalf("replay without a subject = %v, want ErrNoSubject", err)
	}
	// A sequence that holds no letter starts nothing.
	if _, _, err := svc.Replay(ctx, actor, 9999); !errors.Is(err, deadletter.ErrNotFound) {
		t.Fatalf("replay of no letter = %v, want ErrNotFound", err)
	}

	lines := logs.Lines(t)
	job := func(seq uint64) map[string]any {
		return map[string]any{"job_id": strconv.FormatUint(seq, 10), "kind": "dead_letter_replay", "entity": "dead_letter"}
	}
	tests := []struct {
		name, msg, level string
		seq              uint64
		want             map[string]any
	}{
		{name: "started", msg: "BACKGROUND JOB started", level: "INFO", seq: seq, want: map[string]any{"consumer": "test-fail",
			"original_subject": "test.thing.happened", "event_id": ev.ID.String(), "requested_by": "adm-1"}},
		{name: "completed", msg: "BACKGROUND JOB completed", level: "INFO", seq: seq, want: map[string]any{"replayed_as": msgID.String()}},
		{name: "no subject: started", msg: "BACKGROUND JOB started", level: "INFO", seq: ack.Sequence, want: map[string]any{}},
		{name: "no subject: failed", msg: "BACKGROUND JOB failed", level: "ERROR", seq: ack.Sequence, want: map[string]any{"will_retry": false}},
	}
	for _, tt := range tests {
		got := logtest.Find(lines, tt.msg, job(tt.seq))
		if len(got) != 1 {
			t.Errorf("%s: %d lines, want 1", tt.name, len(got))
			continue
		}
		if l := got[0]; l.Level() != tt.level || len(logtest.Find(got, tt.msg, tt.want)) != 1 ||
			(tt.msg != "BACKGROUND JOB started" && !l.Has("duration_ms")) {
			t.Errorf("%s: line %v, want %s with %v", tt.name, l, tt.level, tt.want)
		}
	}
	if n := len(logtest.Find(lines, "BACKGROUND JOB started", job(9999))); n != 0 {
		t.Errorf("a missing letter wrote %d started lines", n)
	}
}
