package consume

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/acube/platform/libs/stream"
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

// DeadLetterSpec is the dead-letter stream's declaration, with the given
// replicas: stream.DeadLetter.
func DeadLetterSpec(replicas int) stream.Spec { return stream.DeadLetter(replicas) }

// EnsureDeadLetterStream declares the dead-letter stream with one replica.
// Deprecated: the services declare stream.DeadLetter with their replicas.
func EnsureDeadLetterStream(ctx context.Context, js jetstream.JetStream) error {
	_, err := stream.Ensure(ctx, js, DeadLetterSpec(1))
	return err
}

func publishDeadLetter(ctx context.Context, js jetstream.JetStream, consumer string, msg jetstream.Msg, meta *jetstream.MsgMetadata, cause error) error {
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
			HeaderAttempts:        []string{strconv.FormatUint(meta.NumDelivered, 10)},
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
