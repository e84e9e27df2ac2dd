// Package audit is the audit log's data contract (docs/events/admin.md):
// every service publishes one audit.<entity>.<action> event per admin
// action through its outbox, and the admin service appends each to its
// immutable audit log.
package audit

import (
	"encoding/json"
	"time"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/keyset"
)

// SubjectPrefix starts every audit subject.
const SubjectPrefix = events.AuditSubjectPrefix

// Entry is an audit record (events.AuditRecord) as stored: with the event id and the source service.
type Entry struct {
	ID     string `json:"id"`
	Source string `json:"source"`
	events.AuditRecord
}

// ErrInvalid marks records that break the contract.
var ErrInvalid = events.ErrInvalidAudit

// Changes marshals v for AuditRecord.Changes; a value that cannot be encoded
// becomes null rather than losing the whole record.
func Changes(v any) json.RawMessage { return events.AuditChanges(v) }

// Filter selects audit entries; zero fields match everything.
type Filter struct {
	ActorID    string
	ActorEmail string
	Action     string
	Entity     string
	EntityID   string
	From, To   time.Time // From inclusive, To exclusive
	Limit      int
	// After continues the list (newest first) after this entry's
	// (occurred_at, id).
	After *keyset.Cursor
}
