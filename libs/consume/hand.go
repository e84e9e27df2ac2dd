package consume

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"
)

// The hand is every message the runner pulled and has not settled, in
// lanes by order key. Only a lane's first message is handled; the others
// wait for it, so one key's events are applied in stream order across
// retries. A failed first message waits out its back-off in place. Every
// message in hand, whatever it is waiting for, is heartbeated, so the
// server neither redelivers it nor counts the wait as an attempt.

// entry is one message in hand.
type entry struct {
	d   delivery
	seq uint64 // stream sequence: the order within a lane
	key string
	// bad is why the message cannot be decoded: it is dead-lettered.
	bad error
	// attempt is the number of the next attempt: the server's deliveries
	// plus the runner's own retries.
	attempt int
	// dlCause is set once the message is to be dead-lettered; while the
	// publish fails the message stays in hand and it is retried.
	dlCause error
	dlTries int
	// beat is when the server last heard of this delivery.
	beat  time.Time
	state state
	timer *time.Timer
}

type state int

const (
	queued  state = iota // behind an earlier message of its key
	ready                // first of its lane, waiting for a worker
	running              // with a worker (or its record in a group commit)
	later                // waiting out a back-off
)

// hand holds the lanes. Its methods are safe for concurrent use.
type hand struct {
	capacity int

	mu       sync.Mutex
	workable *sync.Cond // signalled when ready grows or the hand stops
	lanes    map[string][]*entry
	ready    []*entry
	running  int
	total    int
	stopping bool
	// holding keeps the workers waiting while the runner gathers the
	// messages of a replica it took over from (Runner.gather).
	holding bool
	// room is signalled when the puller may find room again.
	room chan struct{}
}

func newHand(capacity int) *hand {
	h := &hand{capacity: capacity, lanes: map[string][]*entry{}, room: make(chan struct{}, 1)}
	h.workable = sync.NewCond(&h.mu)
	return h
}

// maxAckPending is the server's bound on unsettled messages of the
// consumer; the hand stays well below it, however many messages wait
// behind their keys.
const maxAckPending = 1000

// free is how many messages the puller may fetch: room for the workers'
// next batches, counting only messages they can take soon (not those
// queued behind their key or in back-off), within a hard bound.
func (h *hand) free() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.holding {
		return maxAckPending/2 - h.total
	}
	return min(h.capacity-len(h.ready)-h.running, maxAckPending/2-h.total)
}

// size is how many messages are in hand.
func (h *hand) size() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.total
}

// hold keeps the workers from taking messages until release.
func (h *hand) hold() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.holding = true
}

// release ends a hold.
func (h *hand) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.holding = false
	h.workable.Broadcast()
	h.signalRoom()
}

// add places e in its lane, in stream order behind the message being
// worked on, if any.
func (h *hand) add(e *entry) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.total++
	lane := h.lanes[e.key]
	if len(lane) == 0 {
		h.lanes[e.key] = []*entry{e}
		h.markReady(e)
		return
	}
	// Pulled messages arrive in stream order, except redeliveries; the
	// lane's first message keeps its place once a worker has had it.
	first := 1
	if lane[0].state == ready && h.holding {
		first = 0
	}
	i := len(lane)
	for i > first && lane[i-1].seq > e.seq {
		i--
	}
	if i == 0 {
		// e goes before the head, which no worker has had yet.
		old := lane[0]
		old.state = queued
		h.ready[slices.Index(h.ready, old)] = e
		e.state = ready
	}
	h.lanes[e.key] = slices.Insert(lane, i, e)
}

// markReady queues e for a worker. Lock held.
func (h *hand) markReady(e *entry) {
	e.state = ready
	h.ready = append(h.ready, e)
	h.workable.Signal()
}

// take waits for ready messages and hands up to n of them to a worker,
// each of a different key; nil means the hand stopped.
func (h *hand) take(n int) []*entry {
	h.mu.Lock()
	defer h.mu.Unlock()
	for (len(h.ready) == 0 || h.holding) && !h.stopping {
		h.workable.Wait()
	}
	if h.stopping {
		return nil
	}
	k := min(n, len(h.ready))
	es := slices.Clone(h.ready[:k])
	h.ready = slices.Delete(h.ready, 0, k)
	for _, e := range es {
		e.state = running
	}
	h.running += k
	return es
}

// settle removes e, which was acknowledged, terminated or Nak'ed, and
// readies the next message of its key.
func (h *hand) settle(e *entry) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch e.state {
	case running:
		h.running--
	case ready:
		if i := slices.Index(h.ready, e); i >= 0 {
			h.ready = slices.Delete(h.ready, i, i+1)
		}
	}
	if e.timer != nil {
		e.timer.Stop()
	}
	h.total--
	lane := h.lanes[e.key]
	if i := slices.Index(lane, e); i >= 0 {
		lane = slices.Delete(lane, i, i+1)
	}
	if len(lane) == 0 {
		delete(h.lanes, e.key)
	} else {
		h.lanes[e.key] = lane
		if !h.stopping && lane[0].state == queued {
			h.markReady(lane[0])
		}
	}
	h.signalRoom()
}

// later takes e from its worker and readies it again after delay; it
// keeps its place at the head of its lane meanwhile.
func (h *hand) later(e *entry, delay time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.running--
	e.state = later
	e.timer = time.AfterFunc(delay, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if e.state == later && !h.stopping {
			h.markReady(e)
		}
	})
	h.signalRoom()
}

// signalRoom wakes the puller if it waits for room. Lock held.
func (h *hand) signalRoom() {
	select {
	case h.room <- struct{}{}:
	default:
	}
}

// idle reports whether no worker has or waits for a message, so any room
// is worth a pull.
func (h *hand) idle() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.ready)+h.running == 0
}

// waitRoom waits up to d for the hand to have room for least messages, or
// to fall idle, and reports whether it did.
func (h *hand) waitRoom(ctx context.Context, least int, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for h.free() < least && !h.idle() {
		select {
		case <-h.room:
		case <-t.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// stopped reports whether the runner is shutting down.
func (h *hand) stopped() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.stopping
}

// stop makes take return nil and keeps back-offs from readying messages.
func (h *hand) stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stopping = true
	for _, lane := range h.lanes {
		for _, e := range lane {
			if e.timer != nil {
				e.timer.Stop()
			}
		}
	}
	h.workable.Broadcast()
}

// rest returns the messages still in hand, in stream order, once the
// workers are done.
func (h *hand) rest() []*entry {
	h.mu.Lock()
	defer h.mu.Unlock()
	var es []*entry
	for _, lane := range h.lanes {
		es = append(es, lane...)
	}
	slices.SortFunc(es, func(a, b *entry) int { return cmp.Compare(a.seq, b.seq) })
	return es
}

// heartbeat tells the server, every period, that each message in hand is
// still being worked on, until ctx ends: a message waiting behind its key,
// in back-off or for a connection is not redelivered, and its wait is not
// an attempt.
func (h *hand) heartbeat(ctx context.Context, period time.Duration) {
	t := time.NewTicker(max(period/2, 10*time.Millisecond))
	defer t.Stop()
	var due []*entry
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		due = due[:0]
		h.mu.Lock()
		for _, lane := range h.lanes {
			for _, e := range lane {
				if now.Sub(e.beat) >= period {
					e.beat = now
					due = append(due, e)
				}
			}
		}
		h.mu.Unlock()
		for _, e := range due {
			// An error means the message was settled meanwhile, or the
			// connection is gone and the server will redeliver it.
			_ = e.d.msg.InProgress()
		}
	}
}
