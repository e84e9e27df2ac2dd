package email

import (
	"fmt"

	"github.com/acube/platform/libs/events"
)

// maxReason bounds an admin's reason, as booking does.
const maxReason = 1000

type cancellationView struct {
	common
	RegistrationID string
	EventTitle     string
	When           string
	Location       string
	// Waitlisted says the registration was a place on the waitlist, not
	// a seat, so the email speaks of leaving the waitlist.
	Waitlisted bool
	// Reason is the admin's reason on one line; empty when none was given.
	Reason string
}

// registrationCancelled confirms a cancellation to the registrant who
// made it, or tells them an admin made it, with the reason. The admin's
// address is never shown: the registrant hears from the team.
func (c *Composer) registrationCancelled(ev events.Event) (Message, error) {
	var d events.Registration
	r, err := decode(ev, &d, func() Recipient { return Recipient{Email: d.Email, Name: d.Name} })
	if err != nil {
		return Message{}, err
	}
	if err := required(d.RegistrationID, "registration_id"); err != nil {
		return Message{}, err
	}
	if err := required(d.EventID, "event_id"); err != nil {
		return Message{}, err
	}
	// Who cancelled decides what the email says, so it cannot be guessed.
	if clean(d.CancelledBy, maxName) == "" {
		return Message{}, fmt.Errorf("%w: cancelled_by is missing", ErrInvalid)
	}
	v := cancellationView{
		common: c.common(r), RegistrationID: d.RegistrationID.String(),
		EventTitle: eventTitle(d.EventTitle), When: c.span(d.StartsAt, d.EndsAt),
		Location: place(d.Location), Waitlisted: word(d.PreviousStatus) == "waitlisted",
	}
	name, action := "event_registration_cancelled", "event cancellation confirmation"
	if d.CancelledBy != events.CancelledByRegistrant {
		name, action = "event_registration_cancelled_by_admin", "event cancellation notice"
		v.Reason = clean(d.Reason, maxReason)
	}
	return c.message(ev, name, r, v,
		Summary{Action: action, RefLabel: "Event ID", RefID: d.EventID.String()})
}

type rescheduleView struct {
	common
	RegistrationID string
	EventTitle     string
	// When and Location are the event now; PreviousWhen and
	// PreviousLocation what it was, shown when that part changed.
	When             string
	PreviousWhen     string
	Location         string
	PreviousLocation string
	TimeChanged      bool
	PlaceChanged     bool
	// Status is confirmed or waitlisted (with WaitlistPosition); any other
	// value is left out of the email.
	Status           string
	WaitlistPosition int
	ManageURL        string
}

// eventRescheduled tells one registrant of an event's new time or place.
// What changed is worked out from the old and new values, so the email
// never claims a change the event does not show.
func (c *Composer) eventRescheduled(ev events.Event) (Message, error) {
	var d events.EventRescheduled
	r, err := decode(ev, &d, func() Recipient { return Recipient{Email: d.Email, Name: d.Name} })
	if err != nil {
		return Message{}, err
	}
	if err := required(d.RegistrationID, "registration_id"); err != nil {
		return Message{}, err
	}
	if err := required(d.EventID, "event_id"); err != nil {
		return Message{}, err
	}
	v := rescheduleView{
		common: c.common(r), RegistrationID: d.RegistrationID.String(),
		EventTitle: eventTitle(d.EventTitle), When: c.span(d.StartsAt, d.EndsAt),
		PreviousWhen: c.span(d.PreviousStartsAt, d.PreviousEndsAt),
		Location:     place(d.Location), PreviousLocation: place(d.PreviousLocation),
		TimeChanged: !d.PreviousStartsAt.IsZero() &&
			(!d.PreviousStartsAt.Equal(d.StartsAt) || !d.PreviousEndsAt.Equal(d.EndsAt)),
		Status: word(d.Status), ManageURL: c.registrationLink(d.RegistrationID, d.ManageExpires, d.ManageURL),
	}
	v.PlaceChanged = v.Location != v.PreviousLocation
	switch v.Status {
	case "confirmed":
	case "waitlisted":
		v.WaitlistPosition = max(d.WaitlistPosition, 0)
	default:
		v.Status = ""
	}
	return c.message(ev, "event_rescheduled", r, v,
		Summary{Action: "event schedule change notice", RefLabel: "Event ID", RefID: d.EventID.String()})
}

// eventTitle is an event's title for a subject or a body line.
func eventTitle(s string) string {
	if s = clean(s, maxTitle); s == "" {
		return "our event"
	}
	return s
}

// place is an event's location for a body line.
func place(s string) string {
	if s = clean(s, maxTitle); s == "" {
		return "to be announced"
	}
	return s
}
