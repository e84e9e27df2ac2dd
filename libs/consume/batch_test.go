package consume_test

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/acube/platform/libs/consume"
	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/natstest"
)

// step is one message a batch test publishes.
type step struct {
	// key names the event: the same key is the same event.
	key string
	// replay publishes the event again under a new message id, as a
	// redelivery past JetStream's duplicate window looks.
	replay bool
	// fail is how the handler treats the event: "" applies it,
	// "transient" fails its first delivery, "permanent" fails it for good,
	// "commit" applies it but makes its first delivery's transaction fail
	// at commit.
	fail string
}

type stepData struct {
	Fail string `json:"fail"`
}

const gateType = "consumetest.gate"

// batchRecorder is a BatchHandler whose effects and calls the test reads.
// A gate event holds its batch until the test has published the round and
// the runner holds it all, so the round's messages meet in the next
// batch.
type batchRecorder struct {
	e      env
	gateIn chan struct{}
	// published carries the stream sequence of the round's last message.
	published chan uint64

	mu      sync.Mutex
	calls   map[uuid.UUID]int
	batches [][]uuid.UUID
	// held is the highest stream sequence the runner has taken into its
	// hand (consume.OnHand); heldMore is closed when it grows.
	held     uint64
	heldMore chan struct{}
}

func newBatchRecorder(e env) *batchRecorder {
	return &batchRecorder{e: e, gateIn: make(chan struct{}), published: make(chan uint64),
		calls: map[uuid.UUID]int{}, heldMore: make(chan struct{})}
}

// onHand records that the runner holds the message at seq.
func (b *batchRecorder) onHand(seq uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if seq > b.held {
		b.held = seq
		close(b.heldMore)
		b.heldMore = make(chan struct{})
	}
}

func (b *batchRecorder) handle(ctx context.Context, tx pgx.Tx, msgs []consume.Message) []error {
	errs := make([]error, len(msgs))
	var ids []uuid.UUID
	for i, msg := range msgs {
		if msg.Event.Type == gateType {
			select {
			case b.gateIn <- struct{}{}:
			case <-ctx.Done():
			}
			select {
			case last := <-b.published:
				b.waitHeld(ctx, last)
			case <-ctx.Done():
			}
			continue
		}
		ids = append(ids, msg.Event.ID)
		var d stepData
		if err := msg.Event.UnmarshalData(&d); err != nil {
			errs[i] = consume.Permanent(err)
			continue
		}
		switch {
		case d.Fail == "transient" && msg.Delivery == 1:
			errs[i] = errors.New("421 try later")
			continue
		case d.Fail == "permanent":
			errs[i] = consume.Permanent(errors.New("550 no such user"))
			continue
		}
		_, errs[i] = tx.Exec(ctx, `INSERT INTO batch_effects (event_id, delivery, applied) VALUES ($1, $2, 1)
			ON CONFLICT (event_id) DO UPDATE SET applied = batch_effects.applied + 1`, msg.Event.ID, msg.Delivery)
		if errs[i] == nil && d.Fail == "commit" && msg.Delivery == 1 {
			// A deferred foreign key that nothing satisfies: the commit fails.
			_, errs[i] = tx.Exec(ctx, `INSERT INTO guards (ref) VALUES (1)`)
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, id := range ids {
		b.calls[id]++
	}
	if len(ids) > 0 {
		b.batches = append(b.batches, ids)
	}
	return errs
}

// waitHeld waits until the runner holds the message at seq, and so (first
// deliveries come in stream order) every message before it. It ends with
// ctx, the handler's timeout: the first batch is then not the round, and
// the test fails on it.
func (b *batchRecorder) waitHeld(ctx context.Context, seq uint64) {
	for {
		b.mu.Lock()
		held, more := b.held, b.heldMore
		b.mu.Unlock()
		if held >= seq {
			return
		}
		select {
		case <-more:
		case <-ctx.Done():
			return
		}
	}
}

func TestIntegrationBatch(t *testing.T) {
	tests := []struct {
		name string
		// applied are keys whose events were applied before the runner
		// starts (delivery 0 in the effects).
		applied []string
		// rounds are published one after the other, each once the last
		// has settled.
		rounds [][]step
		// wantFirstBatch is what the handler gets right after the gate:
		// the first round's keys that reach it, sorted.
		wantFirstBatch []string
		// wantCalls counts handler calls per key.
		wantCalls map[string]int
		// wantApplied is the delivery on which each key's effect was
		// written, once; keys not listed have no effect and no record.
		wantApplied      map[string]int
		wantOutcomes     map[string]float64
		wantDeadLettered []string
	}{
		{
			name:    "duplicates are acknowledged without the handler",
			applied: []string{"a"},
			rounds: [][]step{{
				{key: "a", replay: true}, {key: "b"}, {key: "c"}, {key: "c", replay: true},
			}},
			wantFirstBatch: []string{"b", "c"},
			wantCalls:      map[string]int{"b": 1, "c": 1},
			wantApplied:    map[string]int{"a": 0, "b": 1, "c": 1},
			wantOutcomes: map[string]float64{consume.OutcomeProcessed: 3, consume.OutcomeDuplicate: 2,
				consume.OutcomeRetried: 0, consume.OutcomeDeadLettered: 0},
		},
		{
			name: "a transient and a permanent failure leave the others committed",
			rounds: [][]step{{
				{key: "ok1"}, {key: "t", fail: "transient"}, {key: "p", fail: "permanent"}, {key: "ok2"},
			}},
			wantFirstBatch: []string{"ok1", "ok2", "p", "t"},
			wantCalls:      map[string]int{"ok1": 1, "ok2": 1, "t": 2, "p": 1},
			wantApplied:    map[string]int{"ok1": 1, "ok2": 1, "t": 2},
			wantOutcomes: map[string]float64{consume.OutcomeProcessed: 4, consume.OutcomeDuplicate: 0,
				consume.OutcomeRetried: 1, consume.OutcomeDeadLettered: 1},
			wantDeadLettered: []string{"p"},
		},
		{
			name: "redelivery of a committed batch changes nothing",
			rounds: [][]step{
				{{key: "a"}, {key: "b"}, {key: "c"}},
				{{key: "a", replay: true}, {key: "b", replay: true}, {key: "c", replay: true}},
			},
			wantFirstBatch: []string{"a", "b", "c"},
			wantCalls:      map[string]int{"a": 1, "b": 1, "c": 1},
			wantApplied:    map[string]int{"a": 1, "b": 1, "c": 1},
			wantOutcomes: map[string]float64{consume.OutcomeProcessed: 5, consume.OutcomeDuplicate: 3,
				consume.OutcomeRetried: 0, consume.OutcomeDeadLettered: 0},
		},
		{
			name:           "a failed commit acknowledges nothing",
			rounds:         [][]step{{{key: "a"}, {key: "b", fail: "commit"}, {key: "c"}}},
			wantFirstBatch: []string{"a", "b", "c"},
			wantCalls:      map[string]int{"a": 2, "b": 2, "c": 2},
			wantApplied:    map[string]int{"a": 2, "b": 2, "c": 2},
			wantOutcomes: map[string]float64{consume.OutcomeProcessed: 4, consume.OutcomeDuplicate: 0,
				consume.OutcomeRetried: 3, consume.OutcomeDeadLettered: 0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setupBatch(t)
			ctx := context.Background()
			evs := map[string]events.Event{}
			keyOf := map[uuid.UUID]string{}
			event := func(s step) events.Event {
				if ev, ok := evs[s.key]; ok {
					return ev
				}
				ev, err := events.New("test", "consumetest.thing.happened", stepData{Fail: s.fail})
				if err != nil {
					t.Fatal(err)
				}
				evs[s.key], keyOf[ev.ID] = ev, s.key
				return ev
			}
			for _, k := range tt.applied {
				ev := event(step{key: k})
				if _, err := e.pool.Exec(ctx, `INSERT INTO consumed_events (consumer, event_id) VALUES ('tester', $1)`, ev.ID); err != nil {
					t.Fatal(err)
				}
				if _, err := e.pool.Exec(ctx, `INSERT INTO batch_effects (event_id, delivery, applied) VALUES ($1, 0, 1)`, ev.ID); err != nil {
					t.Fatal(err)
				}
			}

			rec := newBatchRecorder(e)
			e.runBatch(t, consume.Config{Concurrency: 1, BatchSize: 10, MaxAttempts: 3,
				Backoff: []time.Duration{10 * time.Millisecond}}, rec.handle, rec.onHand)
			var last uint64
			for r, round := range tt.rounds {
				gate, err := events.New("test", gateType, nil)
				if err != nil {
					t.Fatal(err)
				}
				e.publish(t, gate, gate.ID.String())
				<-rec.gateIn
				for _, s := range round {
					ev := event(s)
					msgID := ev.ID.String()
					if s.replay {
						msgID += "#replay"
					}
					last = e.publishSeq(t, ev, msgID)
				}
				rec.published <- last
				e.settle(t, last)
				if r == 0 {
					rec.mu.Lock()
					var first []string
					if len(rec.batches) > 0 {
						for _, id := range rec.batches[0] {
							first = append(first, keyOf[id])
						}
					}
					rec.mu.Unlock()
					slices.Sort(first)
					if !slices.Equal(first, tt.wantFirstBatch) {
						t.Errorf("first batch %v, want %v", first, tt.wantFirstBatch)
					}
				}
			}

			rec.mu.Lock()
			calls := map[string]int{}
			for id, n := range rec.calls {
				calls[keyOf[id]] = n
			}
			rec.mu.Unlock()
			if !maps.Equal(calls, tt.wantCalls) {
				t.Errorf("handler calls %v, want %v", calls, tt.wantCalls)
			}

			applied := map[string]int{}
			rows, _ := e.pool.Query(ctx, `SELECT event_id, delivery, applied FROM batch_effects`)
			var (
				id          uuid.UUID
				delivery, n int
			)
			if _, err := pgx.ForEachRow(rows, []any{&id, &delivery, &n}, func() error {
				if n != 1 {
					t.Errorf("effect of %s applied %d times, want 1", keyOf[id], n)
				}
				applied[keyOf[id]] = delivery
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(applied, tt.wantApplied) {
				t.Errorf("effects written on deliveries %v, want %v", applied, tt.wantApplied)
			}

			// The inbox holds exactly the applied events (and the gates).
			rows, _ = e.pool.Query(ctx, `SELECT event_id FROM consumed_events`)
			recorded, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
			if err != nil {
				t.Fatal(err)
			}
			var got, want []string
			for _, id := range recorded {
				if k, ok := keyOf[id]; ok {
					got = append(got, k)
				}
			}
			for k := range tt.wantApplied {
				want = append(want, k)
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("consumed_events holds %v, want %v", got, want)
			}

			for outcome, want := range tt.wantOutcomes {
				if got := e.outcome(t, outcome); got != want {
					t.Errorf("%s = %v, want %v", outcome, got, want)
				}
			}
			for _, k := range tt.wantDeadLettered {
				s, err := e.js.Stream(ctx, consume.DeadLetterStream)
				if err != nil {
					t.Fatal(err)
				}
				m, err := s.GetLastMsgForSubject(ctx, consume.DeadLetterPrefix+"tester")
				if err != nil {
					t.Fatalf("no dead letter for %s: %v", k, err)
				}
				if ev, err := events.Decode(m.Data); err != nil || ev.ID != evs[k].ID {
					t.Errorf("dead letter holds %v (%v), want %s", ev.ID, err, k)
				}
			}
		})
	}
}

func TestNewRejectsBatchSizeWithoutBatchHandler(t *testing.T) {
	_, err := consume.New(nil, nil, nil, nil, consume.Config{Stream: "S", Durable: "d", BatchSize: 2}, applyEffect)
	if err == nil {
		t.Fatal("New accepted BatchSize 2 with a per-message Handler")
	}
}

// setupBatch is setup plus the tables of the batch handler: its effects,
// and a deferred foreign key it can break to make a commit fail.
func setupBatch(t *testing.T) env {
	t.Helper()
	e := setup(t)
	if _, err := e.pool.Exec(context.Background(), `
		CREATE TABLE batch_effects (event_id uuid PRIMARY KEY, delivery int NOT NULL, applied int NOT NULL);
		CREATE TABLE guard_keys (id int PRIMARY KEY);
		CREATE TABLE guards (ref int NOT NULL REFERENCES guard_keys (id) DEFERRABLE INITIALLY DEFERRED)`); err != nil {
		t.Fatal(err)
	}
	return e
}

// runBatch runs a batch runner with h; onHand, when not nil, is told each
// message the runner takes into its hand (consume.OnHand).
func (e env) runBatch(t *testing.T, cfg consume.Config, h consume.BatchHandler, onHand func(seq uint64)) {
	t.Helper()
	cfg.Stream, cfg.Durable = "CONSUMETEST", "tester"
	r, err := consume.NewBatch(e.pool, e.js, e.m, e.log, cfg, h)
	if err != nil {
		t.Fatal(err)
	}
	if onHand != nil {
		consume.OnHand(r, onHand)
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

// publishSeq publishes like publish and returns the stream sequence.
func (e env) publishSeq(t *testing.T, ev events.Event, msgID string) uint64 {
	t.Helper()
	data, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	ack, err := e.js.Publish(context.Background(), ev.Subject(), data, jetstream.WithMsgID(msgID))
	if err != nil {
		t.Fatal(err)
	}
	return ack.Sequence
}

// settle waits until the consumer has acknowledged or terminated every
// message up to seq.
func (e env) settle(t *testing.T, seq uint64) {
	t.Helper()
	natstest.WaitAcked(t, e.js, "CONSUMETEST", "tester", seq)
}
