package email

// The event types (and subjects) the mailer turns into email, and their
// data types, are the platform's (libs/events), which the publishers fill
// in; docs/events/mailer.md says what the mailer needs of each. Unknown
// fields are ignored, so publishers may add fields without breaking the
// mailer.

// Recipient is who an email goes to: every event the mailer reads names
// exactly one, as email and name (admin_email and admin_name in the
// admin's and the exporter's events).
type Recipient struct {
	// Email is the recipient's address (required).
	Email string
	// Name is how the email greets the recipient; empty greets without one.
	Name string
}
