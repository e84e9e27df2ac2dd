package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/acube/platform/libs/benchresult"
	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/outbox"
	"github.com/acube/platform/libs/postgres"
	"github.com/acube/platform/libs/stream"
)

const (
	relaySchema  = "relaybench"
	relayStream  = "RELAYBENCH"
	relaySubject = "relaybench.session.booked"
	relayBatch   = 500 // the relay's default batch, and nats bench's --batch
)

// sessionBooked is shaped like booking's booking.session.booked data, so
// the events are the size the relay carries in production.
type sessionBooked struct {
	SessionID     string `json:"session_id"`
	Email         string `json:"email"`
	Name          string `json:"name"`
	Phone         string `json:"phone"`
	SessionType   string `json:"session_type"`
	PreferredDate string `json:"preferred_date"`
	Message       string `json:"message"`
	ManageExpires string `json:"manage_expires"`
	BookedAt      string `json:"booked_at"`
}

func relay(ctx context.Context, o options, stdout io.Writer) error {
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))
	tmp, err := os.MkdirTemp("", "relaybench-")
	if err != nil {
		return fmt.Errorf("temporary directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	db, drop, err := scratchDB(ctx, o.dbURL, "relaybench")
	if err != nil {
		return err
	}
	defer drop()
	pool, err := postgres.Open(ctx, postgres.Config{URL: db, Schema: relaySchema, MaxConns: 4})
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := postgres.Migrate(ctx, pool, relaySchema, quiet, outbox.Migrations()); err != nil {
		return err
	}
	// The relay's UPDATEs would start autovacuum in the middle
	// of a run, in some runs and not others; fillOutbox vacuums instead,
	// untimed, before every run.
	if _, err := pool.Exec(ctx, "ALTER TABLE outbox SET (autovacuum_enabled = false)"); err != nil {
		return fmt.Errorf("turn autovacuum off for the outbox: %w", err)
	}
	ns, err := startNATS(filepath.Join(tmp, "nats"))
	if err != nil {
		return err
	}
	defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
	nc, js, err := stream.Connect(ns.ClientURL(), "relaybench", quiet)
	if err != nil {
		return err
	}
	defer nc.Close()
	// Every measurement gets the stream afresh: a purge keeps the
	// duplicate window, which would ack a later round's repeated message
	// ids without storing them.
	fresh := func(ctx context.Context) (jetstream.Stream, error) {
		if err := js.DeleteStream(ctx, relayStream); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			return nil, fmt.Errorf("delete %s: %w", relayStream, err)
		}
		return stream.Ensure(ctx, js, stream.Spec{Name: relayStream, Subjects: []string{"relaybench.>"},
			MaxAge: time.Hour, MaxBytes: 4 << 30})
	}

	commit := "synchronous_commit off (the default)"
	if o.syncCommit {
		commit = "synchronous commits (-relay-sync-commit)"
	}
	fmt.Fprintf(stdout, "outbox relay vs nats bench: %d× %d events per side per round, one in-process JetStream server (file storage, 2m duplicate window), relay with %s, %d interleaved rounds\n",
		o.repeat, o.events, commit, o.rounds)
	_, haveNats := os.Stat(o.natsBin)
	refName := "nats bench js pub async, same stream, --dedup, --batch 500"
	if haveNats != nil {
		refName = "async publish loop (nats.go), same stream, message ids, batches of 500"
		fmt.Fprintf(stdout, "  (no %s: the publish loop is the reference)\n", o.natsBin)
	}
	// Both sides start from the same state: a stream created afresh, and
	// PostgreSQL just checkpointed (the relay's side also an outbox just
	// filled and vacuumed), so neither a checkpoint's write burst nor
	// autovacuum lands in one side's timing by chance.
	prepare := func(ctx context.Context) (jetstream.Stream, error) {
		if _, err := pool.Exec(ctx, "CHECKPOINT"); err != nil {
			return nil, fmt.Errorf("checkpoint: %w", err)
		}
		return fresh(ctx)
	}
	size, err := eventSize()
	if err != nil {
		return err
	}
	// A side's figure is reps drains (or nats bench runs) of n events in a
	// row, each from the same untimed start, and its rate is their events
	// over their total time: a side then runs for seconds, not a start-up
	// and a burst, while each drain keeps the backlog -events defines
	// (a longer one costs the relay more per event: its claim scans past
	// the index entries of the rows it has marked sent until a vacuum).
	relaySide := func(ctx context.Context, n, reps int) (float64, time.Duration, error) {
		var total, fill time.Duration
		for range reps {
			start := time.Now()
			if err := fillOutbox(ctx, pool, n); err != nil {
				return 0, 0, err
			}
			fill += time.Since(start)
			str, err := prepare(ctx)
			if err != nil {
				return 0, 0, err
			}
			rate, err := drain(ctx, pool, js, str, n, o.syncCommit)
			if err != nil {
				return 0, 0, err
			}
			total += time.Duration(float64(n) / rate * float64(time.Second))
		}
		return float64(n*reps) / total.Seconds(), fill, nil
	}
	refSide := func(ctx context.Context, n, reps int) (float64, error) {
		var total time.Duration
		for range reps {
			if _, err := prepare(ctx); err != nil {
				return 0, err
			}
			var rate float64
			var err error
			if haveNats != nil {
				rate, err = publishLoop(ctx, js, n, size)
			} else {
				rate, err = natsBench(ctx, o.natsBin, ns.ClientURL(), n, size)
			}
			if err != nil {
				return 0, err
			}
			total += time.Duration(float64(n) / rate * float64(time.Second))
		}
		return float64(n*reps) / total.Seconds(), nil
	}
	// A warm-up of each side, not counted: the first relay opens its pool
	// connections and plans its statements, the first publisher grows the
	// server's buffers and file store.
	warm := o.events
	wr, _, err := relaySide(ctx, warm, 1)
	if err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	wn, err := refSide(ctx, warm, 1)
	if err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	fmt.Fprintf(stdout, "  (warm-up, not counted: %d events, relay %.0f events/s, reference %.0f msgs/s)\n", warm, wr, wn)
	system := func(ctx context.Context, round int) (float64, error) {
		rate, fill, err := relaySide(ctx, o.events, o.repeat)
		if err != nil {
			return 0, err
		}
		fmt.Fprintf(stdout, "  round %d relay      outbox.Relay, batches of %d, Nats-Msg-Id = event id: %9.0f events/s  (%d× an outbox of %d events of %d bytes, filled in %.1fs in all)\n",
			round+1, relayBatch, rate, o.repeat, o.events, size, fill.Seconds())
		return rate, nil
	}
	reference := func(ctx context.Context, round int) (float64, error) {
		rate, err := refSide(ctx, o.events, o.repeat)
		if err != nil {
			return 0, err
		}
		if haveNats != nil {
			fmt.Fprintf(stdout, "  round %d loop       nats.go PublishMsgAsync, msg ids, batches of %d:     %9.0f msgs/s\n", round+1, relayBatch, rate)
		} else {
			fmt.Fprintf(stdout, "  round %d nats bench js pub async --dedup --batch %d, same stream:        %9.0f msgs/s\n", round+1, relayBatch, rate)
		}
		return rate, nil
	}
	values, refs, err := benchresult.Interleave(ctx, o.rounds, system, reference)
	if err != nil {
		return err
	}
	note := fmt.Sprintf("%d× %d events of %d bytes per side per round", o.repeat, o.events, size)
	res := benchresult.Result{Area: "relay", Name: "outbox relay events/s into JetStream", Unit: "events/s",
		Ref: refName, Min: 0.3, Note: note}.FromRounds(values, refs)
	fmt.Fprintf(stdout, "  ratio relay / reference: %.2fx median of %d rounds (%s; target >= 0.30x), relay %.0f events/s (median; target >= 20000)\n",
		res.Ratio(), res.Rounds, res.SpreadText(), res.Value)
	if err := benchresult.Print(stdout, res); err != nil {
		return err
	}
	return benchresult.Print(stdout, benchresult.Result{Area: "relay", Name: "outbox relay events/s, absolute", Value: res.Value, Unit: "events/s",
		Min: 20000, Note: note + ", median of the rounds"})
}

// fillOutbox empties the outbox and writes n events with outbox.AddAll
// in transactions of 500 (the rows outbox.Add writes, one statement per
// transaction, so that filling takes seconds), then vacuums and
// analyzes the table, so every run of the relay starts on the same table:
// no sent rows of earlier rounds, no autovacuum pending.
func fillOutbox(ctx context.Context, pool *pgxpool.Pool, n int) error {
	if _, err := pool.Exec(ctx, "TRUNCATE outbox"); err != nil {
		return fmt.Errorf("empty outbox: %w", err)
	}
	for done := 0; done < n; {
		evs := make([]events.Event, 0, relayBatch)
		for ; len(evs) < relayBatch && done < n; done++ {
			ev, err := benchEvent()
			if err != nil {
				return err
			}
			evs = append(evs, ev)
		}
		if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return outbox.AddAll(ctx, tx, evs) }); err != nil {
			return fmt.Errorf("fill outbox: %w", err)
		}
	}
	if _, err := pool.Exec(ctx, "VACUUM ANALYZE outbox"); err != nil {
		return fmt.Errorf("vacuum outbox: %w", err)
	}
	return nil
}

// benchEvent is one booking.session.booked-shaped event with an id of its own.
func benchEvent() (events.Event, error) {
	return events.New("booking", relaySubject, sessionBooked{
		SessionID: "0192f0c4-7a35-7c4e-9d3a-5b6a1f0e2d11", Email: "someone@example.org", Name: "Some One",
		Phone: "1234567890", SessionType: "individual", PreferredDate: "2031-02-01", Message: "Test",
		ManageExpires: "2031-02-09T00:00:00Z", BookedAt: "2026-11-27T10:00:00Z"})
}

// eventSize is the size of one envelope as the outbox stores and the relay
// publishes it: the reference publishes messages of this size.
func eventSize() (int, error) {
	ev, err := benchEvent()
	if err != nil {
		return 0, err
	}
	return jsonSize(ev)
}

// drain runs the relay until the stream holds n messages and returns its
// events per second, timed from the relay's start.
func drain(ctx context.Context, pool *pgxpool.Pool, js jetstream.JetStream, str jetstream.Stream, n int, syncCommit bool) (float64, error) {
	r, err := outbox.NewRelay(pool, js, prometheus.NewRegistry(), slog.New(slog.NewJSONHandler(io.Discard, nil)),
		outbox.RelayConfig{Schema: relaySchema, BatchSize: relayBatch, SyncCommit: syncCommit})
	if err != nil {
		return 0, err
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- r.Run(rctx) }()
	elapsed, err := waitForMessages(ctx, str, n, start)
	cancel()
	if rerr := <-done; rerr != nil && err == nil {
		err = rerr
	}
	if err != nil {
		return 0, fmt.Errorf("relay: %w", err)
	}
	return float64(n) / elapsed.Seconds(), nil
}

// waitForMessages polls the stream until it holds n messages.
func waitForMessages(ctx context.Context, str jetstream.Stream, n int, start time.Time) (time.Duration, error) {
	deadline := time.Now().Add(10 * time.Minute)
	for {
		info, err := str.Info(ctx)
		if err != nil {
			return 0, fmt.Errorf("stream info: %w", err)
		}
		if info.State.Msgs >= uint64(n) {
			return time.Since(start), nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("only %d of %d messages after 10 minutes", info.State.Msgs, n)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// publishLoop is what nats bench js pub async does, with nats.go: n
// messages of size bytes with message ids, in batches of relayBatch, each
// batch's acks awaited before the next.
func publishLoop(ctx context.Context, js jetstream.JetStream, n, size int) (float64, error) {
	payload := bytes.Repeat([]byte("x"), size)
	start := time.Now()
	for done := 0; done < n; {
		for i := 0; i < relayBatch && done < n; i++ {
			msg := &nats.Msg{Subject: "relaybench.loop", Data: payload, Header: nats.Header{}}
			if _, err := js.PublishMsgAsync(msg, jetstream.WithMsgID("loop-"+strconv.Itoa(done))); err != nil {
				return 0, fmt.Errorf("publish: %w", err)
			}
			done++
		}
		select {
		case <-js.PublishAsyncComplete():
		case <-time.After(30 * time.Second):
			return 0, errors.New("publish: no acks within 30s")
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

var natsBenchRate = regexp.MustCompile(`(?m)^\s*(?:Pub stats|NATS JetStream asynchronous publisher stats):\s*([\d,]+)\s+msgs/sec`)

// natsBench runs nats bench js pub async against the same stream and
// returns the messages per second it reports.
func natsBench(ctx context.Context, bin, url string, n, size int) (float64, error) {
	cmd := exec.CommandContext(ctx, bin, "bench", "js", "pub", "async", "relaybench.natsbench",
		"--server", url, "--stream", relayStream, "--msgs", strconv.Itoa(n), "--size", strconv.Itoa(size),
		"--batch", strconv.Itoa(relayBatch), "--dedup", "--no-progress")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("nats bench: %w\n%s", err, out)
	}
	m := natsBenchRate.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("nats bench: no msgs/sec in its output:\n%s", out)
	}
	rate, err := strconv.ParseFloat(strings.ReplaceAll(string(m[1]), ",", ""), 64)
	if err != nil {
		return 0, fmt.Errorf("nats bench: rate %q: %w", m[1], err)
	}
	return rate, nil
}

// jsonSize is the size of the envelope as the outbox stores and the relay
// publishes it.
func jsonSize(ev events.Event) (int, error) {
	b, err := json.Marshal(ev)
	if err != nil {
		return 0, fmt.Errorf("encode event: %w", err)
	}
	return len(b), nil
}
