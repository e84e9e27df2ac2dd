// Package stream connects a service to NATS JetStream and declares the
// streams it owns, idempotently and with explicit limits.
package stream

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Spec describes a stream with the limits every stream must state.
type Spec struct {
	// Name of the stream, e.g. BOOKING.
	Name string
	// Subjects captured, e.g. booking.>.
	Subjects []string
	// MaxAge bounds how long messages are kept (consumers replay within it).
	MaxAge time.Duration
	// MaxBytes bounds the stream's size on disk. A full stream refuses new
	// messages (DiscardNew): the publisher's outbox keeps them and retries,
	// where DiscardOld would drop the oldest, possibly unconsumed, ones.
	// Every node reserves it whole for each replica it holds, so the
	// catalog's sum must fit the server's max_file_store (catalog_test.go).
	MaxBytes int64
	// Duplicates is the Nats-Msg-Id deduplication window; default 2 minutes.
	Duplicates time.Duration
	// Replicas is 1 locally and 3 on the production cluster.
	Replicas int
	// AllowShrink lets Ensure apply a lower MaxAge or MaxBytes, fewer
	// subjects or another replica count to an existing stream. Without it
	// Ensure refuses them: a lower MaxAge or MaxBytes deletes messages at
	// once, and a replica change moves every message between nodes, so each
	// must be a deliberate, reviewed change rather than a catalog edit that
	// the next deploy applies silently.
	AllowShrink bool
	// CreateOnly declares the stream only when it is missing and leaves an
	// existing one as its owner declared it. A service that publishes to a
	// stream it does not own (AUDIT) declares it so, so its outbox need not
	// wait for the owner to start, and two services wishing for different
	// replica counts cannot undo each other's declaration.
	CreateOnly bool
}

// ErrNarrowing marks a declaration that would narrow an existing stream
// (see Spec.AllowShrink). The existing stream is left unchanged; retrying
// does not help until the spec or the stream changes.
var ErrNarrowing = errors.New("declaration would narrow the stream")

// Ensure creates the stream when it is missing and otherwise updates it to
// spec, as long as that only widens it; a narrowing change is refused with
// an error wrapping ErrNarrowing that names each field, and nothing is
// applied. Retention is Limits, so every consumer (mailer, exporter, ...)
// reads every message; discard is New, so a full stream refuses new
// messages instead of dropping old ones nobody may have read yet.
func Ensure(ctx context.Context, js jetstream.JetStream, spec Spec) (jetstream.Stream, error) {
	cfg, err := spec.config()
	if err != nil {
		return nil, err
	}
	s, err := js.Stream(ctx, spec.Name)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		s, err = js.CreateStream(ctx, cfg)
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			// Another replica or service created it meanwhile: compare with it.
			return Ensure(ctx, js, spec)
		}
		if err != nil {
			return nil, fmt.Errorf("create stream %s: %w", spec.Name, err)
		}
		return s, nil
	case err != nil:
		return nil, fmt.Errorf("look up stream %s: %w", spec.Name, err)
	case spec.CreateOnly:
		return s, nil
	}
	have := s.CachedInfo().Config
	if !spec.AllowShrink {
		if narrow := narrowing(have, cfg); len(narrow) > 0 {
			return nil, fmt.Errorf("declare stream %s: %w: %s (set AllowShrink to apply)",
				spec.Name, ErrNarrowing, strings.Join(narrow, "; "))
		}
	}
	if !changed(have, cfg) {
		return s, nil
	}
	s, err = js.UpdateStream(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("update stream %s: %w", spec.Name, err)
	}
	return s, nil
}

// config is the JetStream configuration spec asks for.
func (spec Spec) config() (jetstream.StreamConfig, error) {
	if spec.MaxAge <= 0 || spec.MaxBytes <= 0 {
		return jetstream.StreamConfig{}, fmt.Errorf("stream %s: max age and max bytes must be set", spec.Name)
	}
	if spec.Duplicates == 0 {
		spec.Duplicates = 2 * time.Minute
	}
	if spec.Replicas == 0 {
		spec.Replicas = 1
	}
	return jetstream.StreamConfig{
		Name:       spec.Name,
		Subjects:   spec.Subjects,
		Retention:  jetstream.LimitsPolicy,
		Discard:    jetstream.DiscardNew,
		MaxAge:     spec.MaxAge,
		MaxBytes:   spec.MaxBytes,
		Duplicates: spec.Duplicates,
		Replicas:   spec.Replicas,
		Storage:    jetstream.FileStorage,
	}, nil
}

// narrowing lists, by JetStream field name, what want would take away
// from have: kept messages (max_age, max_bytes), captured subjects
// (subjects) or the placement of every message (num_replicas). A zero
// max age or a negative max bytes on the stream means unlimited.
func narrowing(have, want jetstream.StreamConfig) []string {
	var out []string
	if have.MaxAge == 0 || want.MaxAge < have.MaxAge {
		out = append(out, fmt.Sprintf("max_age %v is below the stream's %v", want.MaxAge, have.MaxAge))
	}
	if have.MaxBytes <= 0 || want.MaxBytes < have.MaxBytes {
		out = append(out, fmt.Sprintf("max_bytes %d is below the stream's %d", want.MaxBytes, have.MaxBytes))
	}
	for _, sub := range have.Subjects {
		if !slices.Contains(want.Subjects, sub) {
			out = append(out, fmt.Sprintf("subjects drop %q", sub))
		}
	}
	if want.Replicas != max(have.Replicas, 1) {
		out = append(out, fmt.Sprintf("num_replicas %d differs from the stream's %d", want.Replicas, have.Replicas))
	}
	return out
}

// changed reports whether applying want to a stream configured as have
// changes anything Ensure manages.
func changed(have, want jetstream.StreamConfig) bool {
	return have.MaxAge != want.MaxAge || have.MaxBytes != want.MaxBytes || have.Replicas != want.Replicas ||
		have.Duplicates != want.Duplicates || have.Discard != want.Discard ||
		!slices.Equal(have.Subjects, want.Subjects)
}

// Ready reports whether the connection is up, for /readyz.
func Ready(nc *nats.Conn) error {
	if nc == nil || !nc.IsConnected() {
		if nc != nil && authError(nc.LastError()) != nil {
			return fmt.Errorf("nats not connected: %w", nc.LastError())
		}
		return errors.New("nats not connected")
	}
	return nil
}

// authError returns err if it is the server refusing the
// connection's identity, else nil: a connection's other last errors may
// be stale by the time it is down.
func authError(err error) error {
	for _, auth := range []error{nats.ErrAuthorization, nats.ErrAuthExpired, nats.ErrAuthRevoked} {
		if errors.Is(err, auth) {
			return err
		}
	}
	return nil
}

// EnsureAll declares each stream in turn (see Ensure): a service's owned
// streams and, create-only, those it also publishes to, such as AUDIT.
func EnsureAll(ctx context.Context, js jetstream.JetStream, specs ...Spec) error {
	for _, spec := range specs {
		if _, err := Ensure(ctx, js, spec); err != nil {
			return err
		}
	}
	return nil
}
