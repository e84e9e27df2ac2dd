package export

import (
	"time"

	"github.com/google/uuid"
)

// Event types (and subjects) the exporter publishes; docs/events/exporter.md
// is their contract.
const (
	TypeCompleted = "exporter.export.completed"
	TypeFailed    = "exporter.export.failed"
	// TypeAuditRequested is the audit event of an administrator asking for
	// an export: audit.<entity>.<action> like every admin action.
	TypeAuditRequested = "audit.audit_log.export"
)

// CompletedData is the data of exporter.export.completed: all the mailer
// needs for the "your export is ready" e-mail.
type CompletedData struct {
	ExportID    uuid.UUID `json:"export_id"`
	AdminID     string    `json:"admin_id"`
	AdminEmail  string    `json:"admin_email"`
	AdminName   string    `json:"admin_name,omitempty"`
	Kind        string    `json:"kind"`
	Rows        int64     `json:"rows"`
	Bytes       int64     `json:"bytes"`
	DownloadURL string    `json:"download_url"`
	ExpiresAt   time.Time `json:"expires_at"`
	CompletedAt time.Time `json:"completed_at"`
}

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
