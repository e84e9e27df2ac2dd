package sender

import (
	"context"
	"log/slog"

	"github.com/acube/platform/services/mailer/internal/email"
)

// Log is the Sender used when no SMTP server is configured: it writes the
// seed's [MOCK EMAIL] lines, so every email is visible without a mail
// provider. It logs the recipient, subject and reference id, never the
// body or a link (links carry tokens).
type Log struct {
	log *slog.Logger
}

// NewLog returns a Log sender writing to log.
func NewLog(log *slog.Logger) *Log {
	return &Log{log: log.With("component", "mock_email")}
}

// Send logs m's lines and always succeeds.
func (l *Log) Send(ctx context.Context, m email.Message) (Receipt, error) {
	attrs := []any{"event_id", m.EventID.String(), "template", m.Template, "message_id", m.MessageID}
	l.log.InfoContext(ctx, "[MOCK EMAIL] Sending "+m.Summary.Action+" to "+m.To.Address, attrs...)
	l.log.InfoContext(ctx, "[MOCK EMAIL] Subject: "+m.Subject, attrs...)
	if m.Summary.RefLabel != "" {
		l.log.InfoContext(ctx, "[MOCK EMAIL] "+m.Summary.RefLabel+": "+m.Summary.RefID, attrs...)
	}
	return Receipt{Response: "logged, not sent (no SMTP_HOST)"}, nil
}
