package email

import (
	"fmt"
	"time"

	"github.com/acube/platform/libs/events"
)

// invitationView fills the invitation template.
type invitationView struct {
	common
	// InvitedBy is the superadmin's email; Role what the invitee becomes.
	InvitedBy string
	Role      string
	// AcceptURL carries the single-use token: it is in the email and
	// nowhere else the mailer writes (Summary and logs leave it out).
	AcceptURL string
	ExpiresAt string
}

// accountInvited is the invitation email (admin.account.invited): the
// link where the invitee chooses a password, valid once and for 24 hours.
func (c *Composer) accountInvited(ev events.Event) (Message, error) {
	var d events.AccountInvited
	r, err := decode(ev, &d, func() Recipient { return Recipient{Email: d.Email, Name: d.Name} })
	if err != nil {
		return Message{}, err
	}
	if err := required(d.AccountID, "account_id"); err != nil {
		return Message{}, err
	}
	v := invitationView{common: c.common(r), InvitedBy: clean(d.InvitedBy.Email, maxName), Role: word(d.Role),
		AcceptURL: c.link(d.AcceptURL), ExpiresAt: c.moment(d.ExpiresAt, time.Time{})}
	if v.AcceptURL == "" {
		return Message{}, fmt.Errorf("%w: accept_url is missing or not a http(s) URL or path", ErrInvalid)
	}
	if v.Role == "" {
		v.Role = "admin"
	}
	if v.ExpiresAt == "" {
		v.ExpiresAt = "24 hours after it was sent"
	}
	return c.message(ev, "invitation", r, v,
		Summary{Action: "admin invitation", RefLabel: "Admin ID", RefID: d.AccountID.String()})
}
