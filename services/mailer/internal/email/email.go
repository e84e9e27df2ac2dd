// Package email turns domain events into emails: it holds the data contract
// of every event the mailer reads, decodes and checks an event's data, and
// renders its message from the templates. It knows nothing of SMTP,
// PostgreSQL or NATS.
package email

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	netmail "net/mail"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/managelink"
	"github.com/acube/platform/services/mailer/internal/templates"
)

// Errors of Compose. Both are permanent: no retry can fix the event.
var (
	// ErrUnknownType is an event type that sends no email.
	ErrUnknownType = errors.New("event type sends no email")
	// ErrInvalid is event data that breaks the contract.
	ErrInvalid = errors.New("invalid event data")
)

// Message is one rendered email to one recipient.
type Message struct {
	// EventID is the event the email is about; with the recipient it keys
	// the delivery, and it is part of the Message-ID.
	EventID uuid.UUID
	// EventType is the event's type.
	EventType string
	// Template names the template, e.g. session_confirmation.
	Template string
	// To is the recipient; Name may be empty.
	To netmail.Address
	// Subject is a single line.
	Subject string
	// HTML and Text are the two alternative bodies.
	HTML string
	Text string
	// MessageID is the Message-ID without angle brackets; the same event
	// and recipient always give the same one.
	MessageID string
	// Summary is what the [MOCK EMAIL] log lines show instead of the body.
	Summary Summary
}

// Summary describes an email without its body or any link, for logs.
type Summary struct {
	// Action completes "Sending ... to", e.g. "session confirmation".
	Action string
	// RefLabel and RefID name the entity, e.g. "Session ID" and its id.
	RefLabel string
	RefID    string
}

// MessageID derives the Message-ID (without angle brackets) of the email
// about eventID to recipient: <event-id.recipient-hash@domain>. The hash
// keeps the address itself out of headers that are copied around.
func MessageID(eventID uuid.UUID, recipient, domain string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(recipient)))
	return eventID.String() + "." + hex.EncodeToString(sum[:8]) + "@" + domain
}

// Composer renders the email an event calls for.
type Composer struct {
	set    *templates.Set
	base   string
	links  *managelink.Signer
	loc    *time.Location
	domain string
	// session and registration are the templates of the manage links.
	session, registration managelink.Template
}

// Option changes a Composer from its defaults.
type Option func(*Composer)

// WithManageTemplates makes the manage links from session and
// registration (config's ManageTemplates) instead of booking's pages
// under the base URL: an organisation with its own front end points them
// there. A zero Template keeps the default.
func WithManageTemplates(session, registration managelink.Template) Option {
	return func(c *Composer) {
		if session.String() != "" {
			c.session = session
		}
		if registration.String() != "" {
			c.registration = registration
		}
	}
}

// NewComposer builds a composer. baseURL is the public site links are
// joined to, links mints the manage links of bookings and registrations
// (booking's events carry only the record's id and the link's expiry,
// never the link), loc the time zone dates are shown in and domain the
// right-hand side of Message-IDs.
func NewComposer(set *templates.Set, baseURL string, links *managelink.Signer, loc *time.Location, domain string, opts ...Option) (*Composer, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("public base url %q: want an absolute http(s) URL", baseURL)
	}
	if links == nil {
		return nil, errors.New("manage-link signer is nil")
	}
	if loc == nil {
		loc = time.UTC
	}
	if domain == "" {
		return nil, errors.New("message-id domain is empty")
	}
	c := &Composer{set: set, base: strings.TrimRight(baseURL, "/"), links: links, loc: loc, domain: domain}
	// Booking's pages under the public site, unless an option says else.
	if c.session, err = managelink.PageTemplate(c.base, managelink.SessionPagePath); err != nil {
		return nil, err
	}
	if c.registration, err = managelink.PageTemplate(c.base, managelink.RegistrationPagePath); err != nil {
		return nil, err
	}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// Types lists the event types that send email, for consumer filters.
func Types() []string {
	return []string{
		events.TypeSessionBooked, events.TypeSessionStatusChanged, events.TypeEventRegistered, events.TypeEventWaitlisted,
		events.TypeEventPromoted, events.TypeRegistrationCancelled, events.TypeEventRescheduled, events.TypeVolunteerApplied,
		events.TypeContactReceived, events.TypeAccountCreated, events.TypeJobCompleted, events.TypeExportCompleted,
		events.TypeAccountInvited, events.TypeEventAlreadyRegistered,
	}
}

// Compose renders the email for ev. Its errors wrap ErrUnknownType,
// ErrInvalid or a template failure; none goes away on retry.
func (c *Composer) Compose(ev events.Event) (Message, error) {
	var (
		m   Message
		err error
	)
	switch ev.Type {
	case events.TypeSessionBooked:
		m, err = c.sessionBooked(ev)
	case events.TypeSessionStatusChanged:
		m, err = c.sessionStatusChanged(ev)
	case events.TypeEventRegistered, events.TypeEventWaitlisted, events.TypeEventPromoted:
		m, err = c.eventRegistration(ev)
	case events.TypeRegistrationCancelled:
		m, err = c.registrationCancelled(ev)
	case events.TypeEventAlreadyRegistered:
		m, err = c.alreadyRegistered(ev)
	case events.TypeEventRescheduled:
		m, err = c.eventRescheduled(ev)
	case events.TypeVolunteerApplied:
		m, err = c.volunteerApplied(ev)
	case events.TypeContactReceived:
		m, err = c.contactReceived(ev)
	case events.TypeAccountCreated:
		m, err = c.accountCreated(ev)
	case events.TypeAccountInvited:
		m, err = c.accountInvited(ev)
	case events.TypeJobCompleted:
		m, err = c.jobCompleted(ev)
	case events.TypeExportCompleted:
		m, err = c.exportCompleted(ev)
	default:
		return Message{}, fmt.Errorf("compose email for event %s: %w: %s", ev.ID, ErrUnknownType, ev.Type)
	}
	if err != nil {
		return Message{}, fmt.Errorf("compose email for %s event %s: %w", ev.Type, ev.ID, err)
	}
	return m, nil
}

// common is what every template's layout uses.
type common struct {
	// Name greets the recipient; empty greets without a name.
	Name string
	// SiteURL is the public site, shown in the footer.
	SiteURL string
}

// message renders template name with view for recipient r.
func (c *Composer) message(ev events.Event, name string, r Recipient, view any, sum Summary) (Message, error) {
	out, err := c.set.Render(name, view)
	if err != nil {
		return Message{}, err
	}
	return Message{
		EventID:   ev.ID,
		EventType: ev.Type,
		Template:  name,
		To:        netmail.Address{Name: clean(r.Name, maxName), Address: r.Email},
		Subject:   out.Subject,
		HTML:      out.HTML,
		Text:      out.Text,
		MessageID: MessageID(ev.ID, r.Email, c.domain),
		Summary:   sum,
	}, nil
}

func (c *Composer) common(r Recipient) common {
	return common{Name: clean(r.Name, maxName), SiteURL: c.base}
}

// decode reads ev's data into v and checks the recipient that to reads
// from it once decoded.
func decode(ev events.Event, v any, to func() Recipient) (Recipient, error) {
	if err := ev.UnmarshalData(v); err != nil {
		return Recipient{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	r := to()
	return r, checkRecipient(r)
}

// checkRecipient accepts one bare address: no display name, no CR/LF, no
// list, since it goes into RCPT TO as it is.
func checkRecipient(r Recipient) error {
	if r.Email == "" {
		return fmt.Errorf("%w: email is missing", ErrInvalid)
	}
	a, err := netmail.ParseAddress(r.Email)
	if err != nil || a.Name != "" || a.Address != r.Email || len(r.Email) > 254 {
		return fmt.Errorf("%w: email is not a single plain address", ErrInvalid)
	}
	return nil
}

func required(id uuid.UUID, field string) error {
	if id == uuid.Nil {
		return fmt.Errorf("%w: %s is missing", ErrInvalid, field)
	}
	return nil
}

// link makes a URL from an event safe to show: an absolute http(s) URL is
// kept, a path is joined to the public base URL, anything else is dropped.
func (c *Composer) link(raw string) string {
	if raw == "" || strings.ContainsAny(raw, " \t\r\n\"'<>\\") {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	switch {
	case (u.Scheme == "https" || u.Scheme == "http") && u.Host != "":
		return u.String()
	case u.Scheme == "" && u.Host == "" && strings.HasPrefix(raw, "/") && !strings.HasPrefix(raw, "//"):
		return c.base + u.String()
	default:
		return ""
	}
}

// sessionLink is the manage link of session id: minted here when the event
// gives the link's expiry, as booking's events do; legacy is the
// manage_url an event published before that carried, used only then
// (rollout compatibility).
func (c *Composer) sessionLink(id uuid.UUID, expires time.Time, legacy string) string {
	if expires.IsZero() {
		return c.link(legacy)
	}
	link, err := c.links.Link(c.session, managelink.KindSession, id.String(), expires)
	if err != nil {
		return ""
	}
	return link
}

// registrationLink is the manage link of registration id; see sessionLink.
func (c *Composer) registrationLink(id uuid.UUID, expires time.Time, legacy string) string {
	if expires.IsZero() {
		return c.link(legacy)
	}
	link, err := c.links.Link(c.registration, managelink.KindRegistration, id.String(), expires)
	if err != nil {
		return ""
	}
	return link
}
