package export

import "github.com/acube/platform/libs/events"

// EventKey orders the failure with the export's other events
// (events.ExportCompleted has the same key).
func (d FailedData) EventKey() string { return events.ExportKey(d.ExportID) }
