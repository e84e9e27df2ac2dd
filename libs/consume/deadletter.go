package consume

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The dead-letter stream: every consumer of every service puts the messages
// it gave up on here, on deadletter.<consumer>, with the original body and
// these headers, for the admin service to list, replay or discard.
const (
	DeadLetterStream = "DEADLETTER"
	DeadLetterPrefix = "deadletter."

	HeaderConsumer        = "Acube-Consumer"
	HeaderOriginalSubject = "Acube-Original-Subject"
	HeaderOriginalStream  = "Acube-Original-Stream"
	HeaderOriginalSeq     = "Acube-Original-Seq"
	HeaderAttempts        = "Acube-Attempts"
	HeaderError           = "Acube-Error"
	HeaderFailedAt        = "Acube-Failed-At"
)

// deadLetter publishes e with cause to the dead-letter stream, then
// terminates it. While the publish fails, e stays in hand, heartbeated
// and first of its lane, and the publish is retried with back-off: the
// message is never let go before its dead letter is stored. During
// shutdown it is Nak'ed instead, for the next replica to dead-letter.
func (r *Runner) deadLetter(h *hand, e *entry, cause error) {
	e.dlCause = cause
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := publishDeadLetter(ctx, r.js, r.cfg.Durable, e, cause); err != nil {
		r.m.deadLetterErrors.WithLabelValues(r.cfg.Durable).Inc()
		if h.stopped() {
			e.d.log.Error("dead-lettering failed during shutdown; returned for redelivery", "error", err.Error())
			r.nak(h, e)
			return
		}
		delay := min(r.cfg.Backoff[0]<<min(e.dlTries, 16), 30*time.Second)
		e.dlTries++
		e.d.log.Error("dead-lettering failed; will retry", "error", err.Error(), "retry_in_ms", delay.Milliseconds())
		h.later(e, delay)
		return
	}
	if err := e.d.msg.Term(); err != nil {
		e.d.log.Warn("terminate after dead-lettering failed; the redelivery dead-letters it again, once", "error", err.Error())
	}
	r.m.messages.WithLabelValues(r.cfg.Durable, OutcomeDeadLettered).Inc()
	e.d.log.Error("event dead-lettered", "error", cause.Error(), "attempts", e.attempt)
	h.settle(e)
}

func publishDeadLetter(ctx context.Context, js jetstream.JetStream, consumer string, e *entry, cause error) error {
	msg, meta := e.d.msg, e.d.meta
	errText := cause.Error()
	if len(errText) > 2048 {
		errText = errText[:2048]
	}
	dl := &nats.Msg{
		Subject: DeadLetterPrefix + consumer,
		Data:    msg.Data(),
		Header: nats.Header{
			HeaderConsumer:        []string{consumer},
			HeaderOriginalSubject: []string{msg.Subject()},
			HeaderOriginalStream:  []string{meta.Stream},
			HeaderOriginalSeq:     []string{strconv.FormatUint(meta.Sequence.Stream, 10)},
			HeaderAttempts:        []string{strconv.Itoa(e.attempt)},
			HeaderError:           []string{errText},
			HeaderFailedAt:        []string{time.Now().UTC().Format(time.RFC3339Nano)},
		},
	}
	// One dead letter per consumer and original message, however often
	// this is retried within the duplicate window.
	id := fmt.Sprintf("%s:%s:%d", consumer, meta.Stream, meta.Sequence.Stream)
	if _, err := js.PublishMsg(ctx, dl, jetstream.WithMsgID(id)); err != nil {
		return fmt.Errorf("publish dead letter for %s seq %d: %w", meta.Stream, meta.Sequence.Stream, err)
	}
	return nil
}
