// Package audit is the exporter's view of the platform's audit trail: the
// record every audit.<entity>.<action> event becomes in the projection, and
// the filters an administrator narrows it with. It knows nothing of SQL or
// NATS.
package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/acube/platform/libs/events"
)

// SubjectPrefix starts the subject of every audit event: audit.<entity>.<action>.
const SubjectPrefix = events.AuditSubjectPrefix

// Record is one admin action, as the projection keeps it.
type Record struct {
	EventID    uuid.UUID
	OccurredAt time.Time
	ActorID    string
	ActorEmail string
	Action     string
	Entity     string
	EntityID   string
	ClientIP   string
	// Changes is a JSON object describing what changed; "{}" when nothing.
	Changes json.RawMessage
}

// ErrMalformed marks an audit event no retry can make valid.
var ErrMalformed = errors.New("malformed audit event")

// FromEvent turns an audit event into its record. Entity and action come
// from the data and, when it lacks them, from the subject; the time is the
// data's occurred_at, else the envelope's. A malformed event is an error
// wrapping ErrMalformed.
func FromEvent(ev events.Event) (Record, error) {
	var d events.AuditRecord
	if err := json.Unmarshal(ev.Data, &d); err != nil {
		return Record{}, fmt.Errorf("%w %s: %v", ErrMalformed, ev.ID, err)
	}
	entity, action := fromSubject(ev.Type)
	r := Record{
		EventID:    ev.ID,
		OccurredAt: d.OccurredAt,
		ActorID:    d.ActorID,
		ActorEmail: d.ActorEmail,
		Action:     firstNonEmpty(d.Action, action),
		Entity:     firstNonEmpty(d.Entity, entity),
		EntityID:   d.EntityID,
		ClientIP:   d.ClientIP,
		Changes:    d.Changes,
	}
	if r.OccurredAt.IsZero() {
		r.OccurredAt = ev.OccurredAt
	}
	r.OccurredAt = r.OccurredAt.UTC()
	if c := bytes.TrimSpace(r.Changes); len(c) == 0 || bytes.Equal(c, []byte("null")) {
		r.Changes = json.RawMessage("{}")
	} else if c[0] != '{' {
		return Record{}, fmt.Errorf("%w %s: changes must be a JSON object", ErrMalformed, ev.ID)
	}
	switch {
	case r.Action == "" || r.Entity == "":
		return Record{}, fmt.Errorf("%w %s: entity and action are required", ErrMalformed, ev.ID)
	case r.OccurredAt.IsZero():
		return Record{}, fmt.Errorf("%w %s: occurred_at is required", ErrMalformed, ev.ID)
	}
	return r, nil
}

// fromSubject splits audit.<entity>.<action>.
func fromSubject(subject string) (entity, action string) {
	rest, ok := strings.CutPrefix(subject, SubjectPrefix)
	if !ok {
		return "", ""
	}
	entity, action, _ = strings.Cut(rest, ".")
	return entity, action
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Columns returns the header of an audit export, in the order a source
// yields each row's cells.
func Columns() []string {
	return []string{"event_id", "occurred_at", "actor_id", "actor_email", "action", "entity", "entity_id", "client_ip", "changes"}
}
