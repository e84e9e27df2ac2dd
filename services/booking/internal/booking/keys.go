package booking

import (
	"strings"

	"github.com/acube/platform/libs/events"
)

// Every event booking publishes names its aggregate (events.Keyed), so
// consumers apply one session's, registration's, event's, application's
// or contact message's events in the order booking wrote them. Those
// other services read carry their keys in libs/events; these are the keys
// of booking's own.

// EventKey is the deleted thing's key, e.g. session:<id>, so a deletion
// stays after the thing's earlier events.
func (d Deleted) EventKey() string { return d.Entity + ":" + d.ID.String() }

// EventKey is the application's or contact message's key.
func (d StatusChanged) EventKey() string { return d.Entity + ":" + d.ID.String() }

// EventKey is the event's key.
func (d EventCreated) EventKey() string { return events.CalendarEventKey(d.EventID) }

// EventKey is the event's key.
func (d EventUpdated) EventKey() string { return events.CalendarEventKey(d.EventID) }

// EventKey is the event's key.
func (d EventImageUpdated) EventKey() string { return events.CalendarEventKey(d.EventID) }

// subjectEntity is the kind of aggregate a subject booking.<kind>.<action>
// is about, e.g. session: the prefix of the keys of Deleted and
// StatusChanged, which serve several kinds.
func subjectEntity(typ string) string {
	parts := strings.Split(typ, ".")
	if len(parts) != 3 {
		return typ
	}
	return parts[1]
}
