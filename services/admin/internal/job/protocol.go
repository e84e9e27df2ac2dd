// Package job is the durable bulk-job path (docs/events/admin.md): the
// admin service records a bulk delete or status update and asks the
// entity's owner to carry it out with admin.job.requested; the owner works
// in chunks and reports booking.job.progress per chunk and
// booking.job.completed at the end; the admin service counts the chunks
// once each, audits every affected id and announces admin.job.completed,
// from which the mailer sends the report.
package job

import (
	"fmt"

	"github.com/acube/platform/libs/events"
)

// Event types (and subjects) of the protocol.
const (
	TypeRequested = events.TypeJobRequested
	TypeCompleted = events.TypeJobCompleted
	// The owner's reports; booking is the owner of every bulk entity today.
	TypeOwnerProgress  = events.TypeJobProgress
	TypeOwnerCompleted = events.TypeJobOwnerCompleted
)

// Actions a job can take.
const (
	ActionDelete       = "delete"
	ActionStatusUpdate = "status_update"
)

// Entities lists the entities bulk jobs may touch, all owned by booking.
func Entities() []string { return []string{"sessions", "volunteers", "contact", "events"} }

// The protocol's messages are the platform's (libs/events), shared with
// the owner that executes jobs and the mailer that sends the report:
// events.JobRequest, events.JobProgress, events.JobOwnerCompleted and
// events.JobCompleted, each keyed by the job (events.JobKey), so the
// owner's completion never overtakes its chunks.

// DecodeOwnerEvent decodes the data of booking.job.progress
// (events.JobProgress) or booking.job.completed (events.JobOwnerCompleted);
// any other type is ErrUnexpectedEvent.
func DecodeOwnerEvent(ev events.Event) (any, error) {
	switch ev.Type {
	case TypeOwnerProgress:
		var p events.JobProgress
		if err := ev.UnmarshalData(&p); err != nil {
			return nil, err
		}
		return p, nil
	case TypeOwnerCompleted:
		var c events.JobOwnerCompleted
		if err := ev.UnmarshalData(&c); err != nil {
			return nil, err
		}
		return c, nil
	}
	return nil, fmt.Errorf("%w: %s", ErrUnexpectedEvent, ev.Type)
}
