// Package stream connects a service to NATS JetStream and declares the
// streams it owns, idempotently and with explicit limits.
package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Connect dials NATS with unlimited reconnects, so an outage delays work
// instead of ending the process, and logs the connection's state changes.
func Connect(url, name string, log *slog.Logger) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := nats.Connect(url,
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(500*time.Millisecond),
		nats.RetryOnFailedConnect(true),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			log.Warn("nats disconnected", "error", errString(err))
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			log.Info("nats reconnected", "url", c.ConnectedUrlRedacted())
		}),
	)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to nats %s: %w", url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream context: %w", err)
	}
	return nc, js, nil
}

// Spec describes a stream with the limits every stream must state.
type Spec struct {
	// Name of the stream, e.g. BOOKING.
	Name string
	// Subjects captured, e.g. booking.>.
	Subjects []string
	// MaxAge bounds how long messages are kept (consumers replay within it).
	MaxAge time.Duration
	// MaxBytes bounds the stream's size on disk.
	MaxBytes int64
	// Duplicates is the Nats-Msg-Id deduplication window; default 2 minutes.
	Duplicates time.Duration
	// Replicas is 1 locally and 3 on the production cluster.
	Replicas int
}

// Ensure creates the stream or updates it to spec. Retention is Limits, so
// every consumer (mailer, exporter, ...) reads every message; discard is Old.
func Ensure(ctx context.Context, js jetstream.JetStream, spec Spec) (jetstream.Stream, error) {
	if spec.MaxAge <= 0 || spec.MaxBytes <= 0 {
		return nil, fmt.Errorf("stream %s: max age and max bytes must be set", spec.Name)
	}
	if spec.Duplicates == 0 {
		spec.Duplicates = 2 * time.Minute
	}
	if spec.Replicas == 0 {
		spec.Replicas = 1
	}
	s, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:       spec.Name,
		Subjects:   spec.Subjects,
		Retention:  jetstream.LimitsPolicy,
		Discard:    jetstream.DiscardOld,
		MaxAge:     spec.MaxAge,
		MaxBytes:   spec.MaxBytes,
		Duplicates: spec.Duplicates,
		Replicas:   spec.Replicas,
		Storage:    jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("declare stream %s: %w", spec.Name, err)
	}
	return s, nil
}

// Ready reports whether the connection is up, for /readyz.
func Ready(nc *nats.Conn) error {
	if nc == nil || !nc.IsConnected() {
		return errors.New("nats not connected")
	}
	return nil
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// EnsureAll declares each stream in turn (see Ensure): a service's owned
// streams and those it also publishes to, such as AUDIT.
func EnsureAll(ctx context.Context, js jetstream.JetStream, specs ...Spec) error {
	for _, spec := range specs {
		if _, err := Ensure(ctx, js, spec); err != nil {
			return err
		}
	}
	return nil
}
