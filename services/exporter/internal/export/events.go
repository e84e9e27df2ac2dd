package export

import (
	"github.com/google/uuid"

	"github.com/acube/platform/libs/events"
)

// Event types (and subjects) the exporter publishes; docs/events/exporter.md
// is their contract.
const (
	TypeCompleted = events.TypeExportCompleted
	TypeFailed    = "exporter.export.failed"
	// TypeAuditRequested is the audit event of an administrator asking for
	// an export: audit.<entity>.<action> like every admin action.
	TypeAuditRequested = "audit.audit_log.export"
)

// The data of exporter.export.completed is events.ExportCompleted: the
// mailer reads it.

// KindAuditLogs names what the exporter exports, for the email.
const KindAuditLogs = "audit-logs"

// FailedData is the data of exporter.export.failed.
type FailedData struct {
	ExportID   uuid.UUID `json:"export_id"`
	AdminID    string    `json:"admin_id"`
	AdminEmail string    `json:"admin_email"`
	AdminName  string    `json:"admin_name,omitempty"`
	Error      string    `json:"error"`
	StatusURL  string    `json:"status_url"`
}
