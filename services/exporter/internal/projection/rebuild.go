package projection

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/stream"
	"github.com/acube/platform/services/exporter/internal/audit"
	"github.com/acube/platform/services/exporter/internal/store"
)

// RebuildResult says what a rebuild replayed.
type RebuildResult struct {
	// Records inserted into the new projection (duplicates counted once
	// per delivery).
	Records int
	// Skipped malformed events, which the live consumer dead-letters.
	Skipped int
	// LastSeq is the last stream sequence replayed.
	LastSeq uint64
}

// replayBatch is how many messages one fetch and one insert handle.
const replayBatch = 1000

// Rebuild replays the whole AUDIT stream into a fresh table and swaps it in
// as the projection, while the live consumer keeps running: the events that
// arrive during the replay are caught up under a lock at the swap. Events
// older than the stream's retention are not in it and so not in the result.
func Rebuild(ctx context.Context, st *store.Store, js jetstream.JetStream, log *slog.Logger) (RebuildResult, error) {
	target, err := lastSeq(ctx, js)
	if err != nil {
		return RebuildResult{}, err
	}
	if err := st.StartRebuild(ctx); err != nil {
		return RebuildResult{}, err
	}
	log.Info("replaying audit stream", "last_seq", target)
	res, err := replay(ctx, js, 1, target, st.InsertRebuild)
	if err != nil {
		return res, err
	}
	log.Info("audit stream replayed; swapping projection", "records", res.Records, "skipped", res.Skipped, "last_seq", res.LastSeq)
	err = st.SwapRebuild(ctx, func(ctx context.Context, insert store.InsertFunc) error {
		now, err := lastSeq(ctx, js)
		if err != nil || now <= res.LastSeq {
			return err
		}
		more, err := replay(ctx, js, res.LastSeq+1, now, insert)
		res.Records += more.Records
		res.Skipped += more.Skipped
		res.LastSeq = max(res.LastSeq, more.LastSeq)
		return err
	})
	if err != nil {
		return res, fmt.Errorf("rebuild audit projection: %w", err)
	}
	return res, nil
}

func lastSeq(ctx context.Context, js jetstream.JetStream) (uint64, error) {
	name := stream.Audit(1).Name
	s, err := js.Stream(ctx, name)
	if err != nil {
		return 0, fmt.Errorf("find stream %s: %w", name, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("read stream %s: %w", name, err)
	}
	return info.State.LastSeq, nil
}

// replay reads the stream from sequence from until it has passed to (or
// finds nothing more) with an ordered consumer, and inserts the records in
// batches.
func replay(ctx context.Context, js jetstream.JetStream, from, to uint64, insert store.InsertFunc) (RebuildResult, error) {
	var res RebuildResult
	if to < from {
		return res, nil
	}
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{audit.SubjectPrefix + ">"},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    from,
	}
	cons, err := js.OrderedConsumer(ctx, stream.Audit(1).Name, cfg)
	if err != nil {
		return res, fmt.Errorf("replay audit stream: %w", err)
	}
	batch := make([]audit.Record, 0, replayBatch)
	for res.LastSeq < to {
		msgs, err := cons.Fetch(replayBatch, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return res, fmt.Errorf("replay audit stream: fetch: %w", err)
		}
		got := 0
		for msg := range msgs.Messages() {
			got++
			meta, err := msg.Metadata()
			if err != nil {
				return res, fmt.Errorf("replay audit stream: %w", err)
			}
			res.LastSeq = meta.Sequence.Stream
			ev, err := events.Decode(msg.Data())
			if err != nil {
				res.Skipped++
				continue
			}
			rec, err := audit.FromEvent(ev)
			if err != nil {
				res.Skipped++
				continue
			}
			batch = append(batch, rec)
		}
		if err := msgs.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return res, fmt.Errorf("replay audit stream: fetch: %w", err)
		}
		if err := insert(ctx, batch); err != nil {
			return res, err
		}
		res.Records += len(batch)
		batch = batch[:0]
		if got == 0 {
			break // the rest of the range was removed from the stream
		}
	}
	return res, nil
}
