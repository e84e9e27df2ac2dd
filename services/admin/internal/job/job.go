package job

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/acube/platform/libs/events"
)

// States of a job.
const (
	StateQueued    = "queued"
	StateRunning   = "running"
	StateCompleted = "completed"
	StateFailed    = "failed"
)

// ErrNotFound means no job has the id.
var ErrNotFound = errors.New("job not found")

// ValidationError lists what is wrong with a request, by field.
type ValidationError struct{ Fields map[string]string }

// Error lists the offending fields.
func (e *ValidationError) Error() string { return fmt.Sprintf("invalid bulk request: %v", e.Fields) }

// Job is one bulk job as the admin service tracks it.
type Job struct {
	ID          uuid.UUID           `json:"id"`
	Entity      string              `json:"entity"`
	Action      string              `json:"action"`
	Status      string              `json:"status,omitempty"`
	State       string              `json:"state"`
	Total       int                 `json:"total"`
	Processed   int                 `json:"processed"`
	Succeeded   int                 `json:"succeeded"`
	Failed      int                 `json:"failed"`
	NotFound    int                 `json:"not_found"`
	Chunks      int                 `json:"chunks"`
	ChunksDone  int                 `json:"chunks_done"`
	Error       string              `json:"error,omitempty"`
	RequestedBy events.JobActor     `json:"requested_by"`
	ClientIP    string              `json:"-"`
	IDs         []string            `json:"-"`
	Reported    bool                `json:"-"` // the owner sent its completed event
	CreatedAt   time.Time           `json:"created_at"`
	UpdatedAt   time.Time           `json:"updated_at"`
	CompletedAt *time.Time          `json:"completed_at,omitempty"`
	Failures    []events.JobFailure `json:"failures,omitempty"`
}

// Done reports whether the job reached an end state.
func (j Job) Done() bool { return j.State == StateCompleted || j.State == StateFailed }

// Request is the input of a bulk endpoint.
type Request struct {
	Entity string   `json:"entity"`
	IDs    []string `json:"ids"`
	Status string   `json:"status,omitempty"`
}

// Statuses lists, per entity, the statuses a bulk status update may set:
// the owner's (booking's) status sets, which the OpenAPI document lists as
// SessionStatus, VolunteerStatus and ContactStatus. Events have none. A
// status outside the entity's set is refused here, before a job exists,
// rather than by the owner after it was queued (issue 14: a "failed" job
// whose report said "Failed 0").
func Statuses(entity string) []string {
	switch entity {
	case "sessions":
		return []string{"pending", "confirmed", "completed", "cancelled"}
	case "volunteers":
		return []string{"pending", "reviewing", "approved", "rejected"}
	case "contact":
		return []string{"new", "read", "replied", "archived"}
	}
	return nil
}

// normalize validates r for action, drops duplicate ids (keeping the
// first) and returns the ids in request order.
func (r Request) normalize(action string, maxIDs int) ([]string, error) {
	f := map[string]string{}
	if !slices.Contains(Entities(), r.Entity) {
		f["entity"] = fmt.Sprintf("must be one of %s", strings.Join(Entities(), ", "))
	}
	switch action {
	case ActionStatusUpdate:
		allowed := Statuses(r.Entity)
		switch {
		case f["entity"] != "":
			if r.Status == "" {
				f["status"] = "is required"
			}
		case len(allowed) == 0:
			f["entity"] = r.Entity + " have no status to update"
		case !slices.Contains(allowed, r.Status):
			f["status"] = fmt.Sprintf("must be one of %s for %s", strings.Join(allowed, ", "), r.Entity)
		}
	case ActionDelete:
		if r.Status != "" {
			f["status"] = "is not accepted for a delete"
		}
	}
	var ids []string
	switch {
	case len(r.IDs) == 0:
		f["ids"] = "must list at least one id"
	case len(r.IDs) > maxIDs:
		f["ids"] = fmt.Sprintf("may list at most %d ids", maxIDs)
	default:
		seen := make(map[string]bool, len(r.IDs))
		ids = make([]string, 0, len(r.IDs))
		for i, id := range r.IDs {
			// Only the canonical 36-character form (any case), the
			// document's format: uuid; not braces or urn:uuid:.
			u, err := uuid.Parse(id)
			if err != nil || len(id) != 36 {
				f["ids"] = fmt.Sprintf("item %d is not a UUID", i)
				break
			}
			s := u.String()
			if !seen[s] {
				seen[s] = true
				ids = append(ids, s)
			}
		}
	}
	if len(f) > 0 {
		return nil, &ValidationError{Fields: f}
	}
	return ids, nil
}
