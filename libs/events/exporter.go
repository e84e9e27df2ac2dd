package events

import (
	"time"

	"github.com/google/uuid"
)

// TypeExportCompleted is the exporter's event that a file is ready
// (docs/events/exporter.md); the mailer tells the admin who asked.
const TypeExportCompleted = "exporter.export.completed"

// ExportCompleted is the data of exporter.export.completed.
type ExportCompleted struct {
	ExportID   uuid.UUID `json:"export_id"`
	AdminID    string    `json:"admin_id"`
	AdminEmail string    `json:"admin_email"`
	AdminName  string    `json:"admin_name,omitempty"`
	// Kind is what was exported, e.g. audit-logs.
	Kind  string `json:"kind"`
	Rows  int64  `json:"rows"`
	Bytes int64  `json:"bytes"`
	// DownloadURL needs an admin login and stops working at ExpiresAt.
	DownloadURL string    `json:"download_url"`
	ExpiresAt   time.Time `json:"expires_at"`
	CompletedAt time.Time `json:"completed_at"`
}

// EventKey orders the event with the export's other events.
func (d ExportCompleted) EventKey() string { return ExportKey(d.ExportID) }
