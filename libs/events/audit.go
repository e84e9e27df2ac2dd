package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"
)

// AuditSubjectPrefix starts the subject of every audit event:
// audit.<entity>.<action>.
const AuditSubjectPrefix = "audit."

// AuditRecord is the data of an audit.<entity>.<action> event: one admin
// action in any service (docs/events/admin.md). Every service publishes it
// through its outbox; the admin service's audit log and the exporter's
// projection read it.
type AuditRecord struct {
	// ActorID is the admin's account id; empty for a failed login of an
	// unknown email.
	ActorID string `json:"actor_id"`
	// ActorEmail is the admin's email, or the email a login attempt named.
	ActorEmail string `json:"actor_email"`
	// Action is what was done, e.g. create, login_failed, status_changed.
	Action string `json:"action"`
	// Entity is the kind of thing acted on, e.g. admin_account, sessions.
	Entity string `json:"entity"`
	// EntityID identifies the thing; empty when there is none.
	EntityID string `json:"entity_id"`
	// ClientIP is the address the request came from, as the gateway saw it.
	ClientIP string `json:"client_ip"`
	// Changes describes what changed, e.g. {"status":{"from":"a","to":"b"}};
	// null when nothing did.
	Changes json.RawMessage `json:"changes"`
	// OccurredAt is when the action happened.
	OccurredAt time.Time `json:"occurred_at"`
}

var auditToken = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// ErrInvalidAudit marks audit records that break the contract.
var ErrInvalidAudit = errors.New("invalid audit record")

// Validate checks the parts of the contract the audit log relies on.
func (r AuditRecord) Validate() error {
	switch {
	case !auditToken.MatchString(r.Entity):
		return fmt.Errorf("%w: entity %q must match %s", ErrInvalidAudit, r.Entity, auditToken)
	case !auditToken.MatchString(r.Action):
		return fmt.Errorf("%w: action %q must match %s", ErrInvalidAudit, r.Action, auditToken)
	case r.OccurredAt.IsZero():
		return fmt.Errorf("%w: occurred_at is missing", ErrInvalidAudit)
	case len(r.Changes) > 0 && !json.Valid(r.Changes):
		return fmt.Errorf("%w: changes is not JSON", ErrInvalidAudit)
	}
	return nil
}

// EventKey is "<entity>:<entity_id>": one entity's audit records are
// applied in the order they were written. A record with no entity id (a
// failed login of an unknown email) orders with nothing and has no key.
func (r AuditRecord) EventKey() string {
	if r.EntityID == "" {
		return ""
	}
	return r.Entity + ":" + r.EntityID
}

// Subject is the subject the record is published on.
func (r AuditRecord) Subject() string { return AuditSubjectPrefix + r.Entity + "." + r.Action }

// Event wraps r in an envelope from source, typed by its subject, that
// tells the same time as the record.
func (r AuditRecord) Event(source string) (Event, error) {
	if err := r.Validate(); err != nil {
		return Event{}, err
	}
	if len(r.Changes) == 0 {
		r.Changes = json.RawMessage("null")
	}
	r.OccurredAt = r.OccurredAt.UTC()
	ev, err := New(source, r.Subject(), r)
	if err != nil {
		return Event{}, fmt.Errorf("audit event %s: %w", r.Subject(), err)
	}
	ev.OccurredAt = r.OccurredAt
	return ev, nil
}

// AuditChanges marshals v for AuditRecord.Changes; a value that cannot be
// encoded becomes null rather than losing the whole record.
func AuditChanges(v any) json.RawMessage {
	if v == nil {
		return json.RawMessage("null")
	}
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage("null")
	}
	return b
}
