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

	fmt.Fprintf(stdout, "outbox relay vs nats bench: %d events, one in-process JetStream server (file storage, 2m duplicate window), %d interleaved rounds\n", o.events, o.rounds)
	_, haveNats := os.Stat(o.natsBin)
	refName := "nats bench js pub async, same stream, --dedup, --batch 500"
	if haveNats != nil {
		refName = "async publish loop (nats.go), same stream, message ids, batches of 500"
		fmt.Fprintf(stdout, "  (no %s: the publish loop is the reference)\n", o.natsBin)
	}
	var size int
	system := func(ctx context.Context, round int) (float64, error) {
		str, err := fresh(ctx)
		if err != nil {
			return 0, err
		}
		start := time.Now()
		if size, err = fillOutbox(ctx, pool, o.events); err != nil {
			return 0, err
		}
		fill := time.Since(start)
		rate, err := drain(ctx, pool, js, str, o.events)
		if err != nil {
			return 0, err
		}
		fmt.Fprintf(stdout, "  round %d relay      outbox.Relay, batches of %d, Nats-Msg-Id = event id: %9.0f events/s  (outbox of %d events of %d bytes filled in %.1fs)\n",
			round+1, relayBatch, rate, o.events, size, fill.Seconds())
		return rate, nil
	}
	reference := func(ctx context.Context, round int) (float64, error) {
		if _, err := fresh(ctx); err != nil {
			return 0, err
		}
		msgSize := size
		if msgSize == 0 { // the reference goes first in odd rounds only, but be safe
			msgSize = 537
		}
		if haveNats != nil {
			rate, err := publishLoop(ctx, js, o.events, msgSize)
			if err == nil {
				fmt.Fprintf(stdout, "  round %d loop       nats.go PublishMsgAsync, msg ids, batches of %d:     %9.0f msgs/s\n", round+1, relayBatch, rate)
			}
			return rate, err
		}
		rate, err := natsBench(ctx, o.natsBin, ns.ClientURL(), o.events, msgSize)
		if err == nil {
			fmt.Fprintf(stdout, "  round %d nats bench js pub async --dedup --batch %d, same stream:        %9.0f msgs/s\n", round+1, relayBatch, rate)
		}
		return rate, err
	}
	values, refs, err := benchresult.Interleave(ctx, o.rounds, system, reference)
	if err != nil {
		return err
	}
	note := fmt.Sprintf("%d events of %d bytes", o.events, size)
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

// fillOutbox writes n events with outbox.Add in transactions of 500, as
// services do, and returns the size of one envelope.
func fillOutbox(ctx context.Context, pool *pgxpool.Pool, n int) (int, error) {
	size := 0
	for done := 0; done < n; {
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			for i := 0; i < relayBatch && done < n; i++ {
				ev, err := events.New("booking", relaySubject, sessionBooked{
					SessionID: "0192f0c4-7a35-7c4e-9d3a-5b6a1f0e2d11", Email: "someone@example.org", Name: "Some One",
					Phone: "1234567890", SessionType: "individual", PreferredDate: "2031-02-01", Message: "Test",
					ManageExpires: "2031-02-09T00:00:00Z", BookedAt: "2026-11-27T10:00:00Z"})
				if err != nil {
					return err
				}
				if size == 0 {
					b, err := jsonSize(ev)
					if err != nil {
						return err
					}
					size = b
				}
				if err := outbox.Add(ctx, tx, ev); err != nil {
					return err
				}
				done++
			}
			return nil
		})
		if err != nil {
			return 0, fmt.Errorf("fill outbox: %w", err)
		}
	}
	return size, nil
}

// drain runs the relay until the stream holds n messages and returns its
// events per second, timed from the relay's start.
func drain(ctx context.Context, pool *pgxpool.Pool, js jetstream.JetStream, str jetstream.Stream, n int) (float64, error) {
	r, err := outbox.NewRelay(pool, js, prometheus.NewRegistry(), slog.New(slog.NewJSONHandler(io.Discard, nil)),
		outbox.RelayConfig{Schema: relaySchema, BatchSize: relayBatch})
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
		case <-time.After(2 * time.Millisecond):
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
