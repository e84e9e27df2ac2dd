// Package audit is the audit log's data contract (docs/events/admin.md):
// every service publishes one audit.<entity>.<action> event per admin
// action through its outbox, and the admin service appends each to its
// immutable audit log.
package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/acube/platform/libs/events"
)

// SubjectPrefix starts every audit subject.
const SubjectPrefix = "audit."

// Record is the data of an audit.<entity>.<action> event and one row of
// the audit log.
type Record struct {
	// ActorID is the admin's account id; empty for a failed login of an
	// unknown email.
	ActorID string `json:"actor_id"`
	// ActorEmail is the admin's email, or the email a login attempt named.
	ActorEmail string `json:"actor_email"`
	// Action is what was done, e.g. create, login_failed, bulk_delete.
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

// Entry is a Record as stored: with the event id and the source service.
type Entry struct {
	ID     string `json:"id"`
	Source string `json:"source"`
	Record
}

var token = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// ErrInvalid marks records that break the contract.
var ErrInvalid = errors.New("invalid audit record")

// Validate checks the parts of the contract the log relies on.
func (r Record) Validate() error {
	switch {
	case !token.MatchString(r.Entity):
		return fmt.Errorf("%w: entity %q must match %s", ErrInvalid, r.Entity, token)
	case !token.MatchString(r.Action):
		return fmt.Errorf("%w: action %q must match %s", ErrInvalid, r.Action, token)
	case r.OccurredAt.IsZero():
		return fmt.Errorf("%w: occurred_at is missing", ErrInvalid)
	case len(r.Changes) > 0 && !json.Valid(r.Changes):
		return fmt.Errorf("%w: changes is not JSON", ErrInvalid)
	}
	return nil
}

// Subject is the subject the record is published on.
func (r Record) Subject() string { return SubjectPrefix + r.Entity + "." + r.Action }

// Event wraps r in an envelope from source, typed by its subject.
func (r Record) Event(source string) (events.Event, error) {
	if err := r.Validate(); err != nil {
		return events.Event{}, err
	}
	if len(r.Changes) == 0 {
		r.Changes = json.RawMessage("null")
	}
	r.OccurredAt = r.OccurredAt.UTC()
	ev, err := events.New(source, r.Subject(), r)
	if err != nil {
		return events.Event{}, fmt.Errorf("audit event %s: %w", r.Subject(), err)
	}
	ev.OccurredAt = r.OccurredAt
	return ev, nil
}

// Changes marshals v for Record.Changes; a value that cannot be encoded
// becomes null rather than losing the whole record.
func Changes(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage("null")
	}
	return b
}

// Filter selects audit entries; zero fields match everything.
type Filter struct {
	ActorID    string
	ActorEmail string
	Action     string
	Entity     string
	EntityID   string
	From, To   time.Time // From inclusive, To exclusive
	Limit      int
	After      *Cursor
}

// Cursor points just past the last entry of a page (newest first).
type Cursor struct {
	OccurredAt time.Time
	ID         string
}
