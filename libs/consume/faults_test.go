package consume_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/acube/platform/libs/consume"
	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/stream"
	"github.com/acube/platform/libs/testkit"
)

// orderData is the data of an event of the order test: event N of
// aggregate K.
type orderData struct {
	K string `json:"k"`
	N int    `json:"n"`
}

// EventKey makes K the envelope's Key, as the services' events do.
func (d orderData) EventKey() string { return "thing:" + d.K }

// replica is one runner started by a test, on a NATS connection of its
// own, as a second replica of a service would be.
type replica struct {
	cancel context.CancelFunc
	done   chan error
}

func (e env) replica(t *testing.T, name string, build func(js jetstream.JetStream) (*consume.Runner, error)) *replica {
	t.Helper()
	nc, js, err := stream.Connect(e.url, name, e.log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	r, err := build(js)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rep := &replica{cancel: cancel, done: make(chan error, 1)}
	go func() { rep.done <- r.Run(ctx) }()
	t.Cleanup(func() { rep.stop(t) })
	return rep
}

// stop shuts the replica down as SIGTERM would and waits for Run.
func (rep *replica) stop(t *testing.T) {
	t.Helper()
	if rep.cancel == nil {
		return
	}
	rep.cancel()
	rep.cancel = nil
	if err := <-rep.done; err != nil {
		t.Errorf("runner: %v", err)
	}
}

// TestIntegrationOrderPerKey publishes two events for each of 1,000 keys
// to two replicas sharing one durable, fails a quarter of the handler
// calls transiently, and stops the replica that is working halfway: every
// key's first event must be applied before its second, each exactly once.
func TestIntegrationOrderPerKey(t *testing.T) {
	const keys = 1000
	tests := []struct {
		name   string
		batch  int
		effect bool
	}{
		{name: "one message per transaction", batch: 1},
		{name: "batches", batch: 8},
		{name: "effects", batch: 8, effect: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t)
			ctx := context.Background()
			if _, err := e.pool.Exec(ctx, `CREATE TABLE ordered (k text NOT NULL, n int NOT NULL, seq bigserial, PRIMARY KEY (k, n))`); err != nil {
				t.Fatal(err)
			}
			var working atomic.Int64 // the replica that applied the last event
			apply := func(replica int64) consume.Handler {
				return func(ctx context.Context, tx pgx.Tx, msg consume.Message) error {
					var d orderData
					if err := msg.Event.UnmarshalData(&d); err != nil {
						return consume.Permanent(err)
					}
					// Attempts 1 to 3 may fail; MaxAttempts is well above.
					if msg.Delivery <= 3 && rand.IntN(4) == 0 {
						return errors.New("transient failure")
					}
					if _, err := tx.Exec(ctx, `INSERT INTO ordered (k, n) VALUES ($1, $2)`, d.K, d.N); err != nil {
						return err
					}
					working.Store(replica)
					return nil
				}
			}
			cfg := consume.Config{Stream: "CONSUMETEST", Durable: "tester", MaxAttempts: 10,
				Backoff: []time.Duration{5 * time.Millisecond, 20 * time.Millisecond}, AckWait: 2 * time.Second}
			build := func(replica int64) func(js jetstream.JetStream) (*consume.Runner, error) {
				h := apply(replica)
				return func(js jetstream.JetStream) (*consume.Runner, error) {
					c := cfg
					if tt.batch == 1 {
						return consume.New(e.pool, js, e.m, e.log, c, h)
					}
					c.BatchSize = tt.batch
					if tt.effect {
						return consume.NewEffect(e.pool, js, e.m, e.log, c, consume.Effect[orderData]{
							Do: func(_ context.Context, msg consume.Message) (orderData, error) {
								var d orderData
								if err := msg.Event.UnmarshalData(&d); err != nil {
									return d, consume.Permanent(err)
								}
								if msg.Delivery <= 3 && rand.IntN(4) == 0 {
									return d, errors.New("transient failure")
								}
								return d, nil
							},
							Record: func(b *pgx.Batch, done []orderData) {
								for _, d := range done {
									b.Queue(`INSERT INTO ordered (k, n) VALUES ($1, $2)`, d.K, d.N)
								}
								working.Store(replica)
							},
						})
					}
					return consume.NewBatch(e.pool, js, e.m, e.log, c, func(ctx context.Context, tx pgx.Tx, msgs []consume.Message) []error {
						errs := make([]error, len(msgs))
						for i, msg := range msgs {
							// A savepoint per message keeps a failed one from
							// aborting the others (the BatchHandler contract).
							sp, err := tx.Begin(ctx)
							if err != nil {
								errs[i] = err
								continue
							}
							if errs[i] = h(ctx, sp, msg); errs[i] != nil {
								_ = sp.Rollback(ctx)
								continue
							}
							errs[i] = sp.Commit(ctx)
						}
						return errs
					})
				}
			}
			replicas := []*replica{e.replica(t, "replica-0", build(0)), e.replica(t, "replica-1", build(1))}

			for i := range keys {
				for n := 1; n <= 2; n++ {
					ev, err := events.New("test", "consumetest.thing.happened", orderData{K: fmt.Sprint(i), N: n})
					if err != nil {
						t.Fatal(err)
					}
					e.publish(t, ev, ev.ID.String())
				}
			}
			count := func() int {
				var n int
				if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM ordered`).Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			}
			testkit.Eventually(t, "half the events applied", func() bool { return count() >= keys })
			replicas[working.Load()].stop(t) // the other one takes over
			testkit.Eventually(t, "every event applied", func() bool { return count() == 2*keys })

			var wrong int
			if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM ordered a JOIN ordered b USING (k)
				WHERE a.n = 1 AND b.n = 2 AND a.seq > b.seq`).Scan(&wrong); err != nil {
				t.Fatal(err)
			}
			if wrong != 0 {
				t.Errorf("%d of %d keys had their second event applied before their first", wrong, keys)
			}
			if got := e.outcome(t, consume.OutcomeDeadLettered); got != 0 {
				t.Errorf("dead-lettered %v messages, want 0", got)
			}
		})
	}
}

// TestIntegrationDeadLetterOutage makes DEADLETTER unavailable while every
// handler call fails for good: once it is back, every failed message must
// be in it and the consumer settled, none dropped by the server.
func TestIntegrationDeadLetterOutage(t *testing.T) {
	const n = 5
	e := setup(t)
	ctx := context.Background()
	var calls atomic.Int64
	e.run(t, consume.Config{MaxAttempts: 2, Backoff: []time.Duration{10 * time.Millisecond}, AckWait: time.Second},
		func(context.Context, pgx.Tx, consume.Message) error {
			calls.Add(1)
			return consume.Permanent(errors.New("550 no such user"))
		})

	moveDeadLetter := func(subject string) {
		t.Helper()
		s, err := e.js.Stream(ctx, consume.DeadLetterStream)
		if err != nil {
			t.Fatal(err)
		}
		cfg := s.CachedInfo().Config
		cfg.Subjects = []string{subject}
		if _, err := e.js.UpdateStream(ctx, cfg); err != nil {
			t.Fatal(err)
		}
	}
	moveDeadLetter("deadletter-away.>")
	want := map[string]bool{}
	var last uint64
	for range n {
		ev, err := events.New("test", "consumetest.thing.failed", nil)
		if err != nil {
			t.Fatal(err)
		}
		want[ev.ID.String()] = true
		last = e.publishSeq(t, ev, ev.ID.String())
	}
	testkit.Eventually(t, "every message handled once", func() bool { return calls.Load() >= n })
	// The outage lasts ten AckWaits: long enough for the server to give up
	// on any message the runner lets go of. A deliberate gap, not a wait
	// for a condition: nothing is awaited, time must pass.
	time.Sleep(10 * time.Second)
	moveDeadLetter(consume.DeadLetterPrefix + ">")

	s, err := e.js.Stream(ctx, consume.DeadLetterStream)
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, fmt.Sprintf("%d dead letters", n), func() bool {
		info, err := s.Info(ctx)
		return err == nil && info.State.Msgs >= n
	})
	e.settle(t, last)
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := events.Decode(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		if !want[ev.ID.String()] {
			t.Errorf("dead letter %s is not one of the failed events, or came twice", ev.ID)
		}
		delete(want, ev.ID.String())
	}
	if len(want) != 0 {
		t.Errorf("%d failed messages are not in DEADLETTER: lost", len(want))
	}
}

// TestIntegrationQueuedMessagesAreNotRedelivered holds one handler for
// several AckWaits while the messages behind it wait in the runner: none
// of them may be redelivered or dead-lettered, and each is handled once.
func TestIntegrationQueuedMessagesAreNotRedelivered(t *testing.T) {
	const n = 20
	e := setup(t)
	const ackWait = time.Second
	gate := make(chan struct{})
	var (
		mu    sync.Mutex
		calls = map[string]int{}
		first atomic.Bool
	)
	e.run(t, consume.Config{MaxAttempts: 2, AckWait: ackWait, HandleTimeout: time.Minute, Concurrency: 1},
		func(ctx context.Context, tx pgx.Tx, msg consume.Message) error {
			mu.Lock()
			calls[msg.Event.ID.String()]++
			mu.Unlock()
			if first.CompareAndSwap(false, true) {
				select { // the slow handler
				case <-gate:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			return applyEffect(ctx, tx, msg)
		})
	var last uint64
	for range n {
		// One aggregate: every message queues behind the slow first one.
		ev, err := events.New("test", "consumetest.thing.happened", orderData{K: "one", N: 1})
		if err != nil {
			t.Fatal(err)
		}
		last = e.publishSeq(t, ev, ev.ID.String())
	}
	testkit.Eventually(t, "the slow handler to start", first.Load)
	// Hold it for three AckWaits, so a message that waits without the
	// server hearing of it is redelivered. A deliberate gap: the stall is
	// the fault under test.
	time.Sleep(3 * ackWait)
	close(gate)
	e.settle(t, last)

	mu.Lock()
	defer mu.Unlock()
	if len(calls) != n {
		t.Errorf("handler saw %d events, want %d", len(calls), n)
	}
	for id, c := range calls {
		if c != 1 {
			t.Errorf("event %s handled %d times, want 1", id, c)
		}
	}
	for _, tt := range []struct {
		outcome string
		want    float64
	}{
		{outcome: consume.OutcomeProcessed, want: n},
		{outcome: consume.OutcomeDuplicate, want: 0},
		{outcome: consume.OutcomeRetried, want: 0},
		{outcome: consume.OutcomeDeadLettered, want: 0},
	} {
		if got := e.outcome(t, tt.outcome); got != tt.want {
			t.Errorf("%s = %v, want %v", tt.outcome, got, tt.want)
		}
	}
	if got := e.counter(t, "consumer_redeliveries_total"); got != 0 {
		t.Errorf("redeliveries = %v, want 0", got)
	}
}
