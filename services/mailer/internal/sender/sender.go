// Package sender hands rendered emails to the mail system: over SMTP with
// reused connections, or, when no SMTP server is configured, as the seed's
// [MOCK EMAIL] log lines. It classifies every failure as permanent (the
// server refused this message: 5xx) or transient (4xx, network, timeouts).
package sender

import (
	"context"
	"errors"
	"fmt"

	"github.com/acube/platform/services/mailer/internal/email"
)

// Failure kinds: the values of the kind label of email_failures_total.
const (
	KindPermanent = "permanent"
	KindTransient = "transient"
)

// Sender delivers one email and returns the server's answer.
type Sender interface {
	Send(ctx context.Context, m email.Message) (Receipt, error)
}

// Receipt is what the server answered on accepting an email, e.g.
// "250 2.0.0 Ok: queued as 4F1A2".
type Receipt struct {
	Response string
}

// Error is a failed send, classified.
type Error struct {
	// Kind is KindPermanent or KindTransient.
	Kind string
	// Code is the SMTP reply code, or 0 when the server gave none.
	Code int
	Err  error
}

// Error says the kind and the cause.
func (e *Error) Error() string {
	return fmt.Sprintf("%s smtp failure: %v", e.Kind, e.Err)
}

// Unwrap returns the cause, for errors.Is and errors.As.
func (e *Error) Unwrap() error { return e.Err }

// Kind tells whether err is permanent; an unclassified error is transient.
func Kind(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindTransient
}
