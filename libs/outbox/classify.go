package outbox

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// classify tells a failure that retrying can cure (NATS or the stream down,
// a stream leader election) from one it cannot: a payload over the
// server's max_payload or the stream's max_msg_size, a subject the client
// may not publish to or that is malformed, a subject no stream holds.
//
// A publish nobody answers means either that no stream holds the subject
// or that the stream is unavailable; asking JetStream for the stream of the
// subject tells them apart, and an error in asking counts as unavailable.
// lookups remembers the answer per subject, so a wave asks once.
func (r *Relay) classify(ctx context.Context, x pending, err error, lookups map[string]verdict) result {
	var apiErr *jetstream.APIError
	switch {
	case errors.Is(err, nats.ErrMaxPayload), errors.Is(err, nats.ErrBadSubject),
		errors.Is(err, nats.ErrPermissionViolation):
		return result{verdict: permanent, err: err}
	case errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamMessageExceedsMaximum:
		return result{verdict: permanent, err: err}
	case errors.Is(err, jetstream.ErrNoStreamResponse):
		v, ok := lookups[x.subject]
		if !ok {
			v = r.lookUp(ctx, x.subject)
			lookups[x.subject] = v
		}
		switch v {
		case noStream:
			return result{verdict: noStream, err: fmt.Errorf("no stream holds subject %s: %w", x.subject, err)}
		case permanent:
			return result{verdict: permanent, err: fmt.Errorf("subject %q is invalid: %w", x.subject, err)}
		}
	}
	return result{verdict: transient, err: err}
}

// lookUp asks JetStream which stream holds subject: noStream when none
// does, permanent when the subject is malformed, transient when a stream
// does (it is unavailable for now) or the question goes unanswered.
func (r *Relay) lookUp(ctx context.Context, subject string) verdict {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.PublishTimeout)
	defer cancel()
	_, err := r.js.StreamNameBySubject(ctx, subject)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		return noStream
	case errors.Is(err, jetstream.ErrInvalidSubject):
		return permanent
	}
	return transient
}

// unacked is the verdict on a row JetStream did not answer within
// PublishTimeout. The server drops a publish that violates the client's
// permissions and says so only on the connection (its last error), so a
// violation naming the row's subject parks it; anything else is an outage.
func (r *Relay) unacked(x pending) result {
	err := fmt.Errorf("publish event %s: no ack within %s", x.id, r.cfg.PublishTimeout)
	if nc := r.js.Conn(); nc != nil {
		last := nc.LastError()
		if errors.Is(last, nats.ErrPermissionViolation) &&
			strings.Contains(last.Error(), "Publish to "+strconv.Quote(x.subject)) {
			return result{verdict: permanent, err: fmt.Errorf("publish event %s: %w", x.id, last)}
		}
	}
	return result{verdict: transient, err: err}
}
