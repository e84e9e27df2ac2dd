package consume

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// priorityGroup is the consumer's one priority group: every replica pulls
// in it, and the server pins it to one of them.
const priorityGroup = "replicas"

// pullEvery is the longest a pull request waits on the server, and so the
// longest the runner goes without sending one: a pinned replica that sends
// none for pinnedTTL loses the pin.
// It is short because a shutting-down runner waits for its last pull
// request to end before it Naks what it holds: a request still open would
// take the Nak'ed messages into an inbox nobody reads.
func (r *Runner) pullEvery() time.Duration {
	return min(max(r.cfg.AckWait/4, 500*time.Millisecond), 2*time.Second)
}

// pinnedTTL is how long the server keeps the pin of a replica that stopped
// pulling before it gives the consumer to a standby. It outlasts AckWait
// plus a pull: by then the server has made every message the silent
// replica held (heartbeated until its last moment) redeliverable, and it
// redelivers those first, so the standby sees one key's messages in order.
func (r *Runner) pinnedTTL() time.Duration {
	return r.cfg.AckWait + 3*r.pullEvery()
}

// pull fetches messages into the hand until ctx ends, no more than the
// hand has room for. With no room it still sends a pull request every
// pullEvery that can take no message (at most one byte), so the server
// keeps this replica pinned while it works through what it holds. It
// returns the pin id the server gave this replica, if any.
func (r *Runner) pull(ctx context.Context, cons jetstream.Consumer, h *hand) (pin string) {
	every := r.pullEvery()
	// A pull asks for a good share of the hand at once: pulling each
	// message as its predecessor settles would cost a request per message.
	least := max(1, r.capacity()/4)
	var lastPull time.Time
	for ctx.Err() == nil {
		n := h.free()
		if n < least && !h.idle() {
			if h.waitRoom(ctx, least, every-time.Since(lastPull)) || ctx.Err() != nil {
				continue
			}
		}
		var (
			batch jetstream.MessageBatch
			err   error
		)
		lastPull = time.Now()
		if n = h.free(); n > 0 {
			batch, err = cons.Fetch(n, jetstream.FetchMaxWait(every), jetstream.FetchPriorityGroup(priorityGroup))
		} else {
			batch, err = cons.FetchBytes(1, jetstream.FetchMaxWait(every), jetstream.FetchPriorityGroup(priorityGroup))
		}
		if err != nil {
			r.log.Warn("pull failed; retrying", "error", err.Error())
			sleep(ctx, every/4)
			continue
		}
		for msg := range batch.Messages() {
			if id := msg.Headers().Get("Nats-Pin-Id"); id != "" && id != pin {
				// This replica just got the consumer: hold every message
				// until the previous holder's have come back.
				pin = id
				h.hold()
				go r.gather(ctx, cons, h)
			}
			if e, ok := r.intake(msg); ok {
				h.add(e)
				if r.inHand != nil {
					r.inHand(e.seq)
				}
			}
		}
		switch err := batch.Error(); {
		case err == nil, errors.Is(err, jetstream.ErrNoMessages), errors.Is(err, context.DeadlineExceeded):
		case errors.Is(err, jetstream.ErrPinIDMismatch):
			// Another replica holds the consumer; this one stands by.
			r.log.Debug("standing by: another replica is pinned")
		default:
			r.log.Warn("pull ended with an error", "error", err.Error())
			sleep(ctx, every/4)
		}
	}
	return pin
}

// gather releases the hand's hold once it holds every message the
// consumer has pending: those the previous pinned replica returned on
// shutdown (or held when it crashed) are redelivered to this one, but the
// server does not keep their order when no pull request is waiting, so
// one key's messages can come back in any order. Once all of them are in
// hand, and none has started, the lanes hold them in stream order. If
// they do not all come within holdFor (a replica that lost the pin but
// still works), the hold ends anyway, with a warning.
func (r *Runner) gather(ctx context.Context, cons jetstream.Consumer, h *hand) {
	deadline := time.Now().Add(r.holdFor())
	for {
		info, err := cons.Info(ctx)
		if err == nil && info.NumAckPending <= h.size() {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			pending := -1
			if info != nil {
				pending = info.NumAckPending
			}
			r.log.Warn("took over the consumer, but not every pending message came back; handling what is in hand",
				"pending", pending, "in_hand", h.size())
			break
		}
		sleep(ctx, 20*time.Millisecond)
	}
	h.release()
}

// holdFor bounds the wait for pending messages on taking over: long enough
// for those of a crashed replica to pass their AckWait and come back.
func (r *Runner) holdFor() time.Duration {
	return r.cfg.AckWait + 2*r.pullEvery()
}

// unpin lets a standby replica take over at once when this one, which
// holds the pin, has returned its messages on shutdown.
func (r *Runner) unpin(cons jetstream.Consumer, pin string) {
	if pin == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	info, err := cons.Info(ctx)
	if err != nil {
		r.log.Warn("read consumer to unpin it; a standby takes over after the pin's TTL", "error", err.Error())
		return
	}
	for _, g := range info.PriorityGroups {
		if g.Group != priorityGroup || g.PinnedClientID != pin {
			continue
		}
		s, err := r.js.Stream(ctx, r.cfg.Stream)
		if err == nil {
			err = s.UnpinConsumer(ctx, r.cfg.Durable, priorityGroup)
		}
		if err != nil {
			r.log.Warn("unpin consumer; a standby takes over after the pin's TTL", "error", err.Error())
		}
	}
}
