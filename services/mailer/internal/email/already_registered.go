package email

import (
	"github.com/acube/platform/libs/events"
)

// alreadyRegisteredView fills the event_already_registered template.
type alreadyRegisteredView struct {
	common
	RegistrationID string
	EventTitle     string
	When           string
	Location       string
	// Waitlisted says the registration is a place on the waitlist, at
	// WaitlistPosition when known, not a seat.
	Waitlisted       bool
	WaitlistPosition int
	ManageURL        string
}

// alreadyRegistered tells a registrant that their address was submitted
// again for an event they are registered for
// (booking.event.already_registered). The form answered that submit as if
// the address were new, so nobody learns from it who is registered; this
// email is where the registrant learns of it, with their manage link.
// Everything in it comes from their own registration, nothing from the
// form, so whoever submitted it cannot choose a word of the email.
func (c *Composer) alreadyRegistered(ev events.Event) (Message, error) {
	var d events.AlreadyRegistered
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
	v := alreadyRegisteredView{
		common: c.common(r), RegistrationID: d.RegistrationID.String(),
		EventTitle: eventTitle(d.EventTitle), When: c.span(d.StartsAt, d.EndsAt), Location: place(d.Location),
		Waitlisted: word(d.Status) == "waitlisted",
		ManageURL:  c.registrationLink(d.RegistrationID, d.ManageExpires, d.ManageURL),
	}
	if v.Waitlisted {
		v.WaitlistPosition = max(d.WaitlistPosition, 0)
	}
	return c.message(ev, "event_already_registered", r, v,
		Summary{Action: "event already-registered notice", RefLabel: "Event ID", RefID: d.EventID.String()})
}
