package pages

import (
	"net/http"
	"strconv"

	"github.com/acube/platform/libs/webpage"
	"github.com/acube/platform/services/booking/internal/booking"
)

// registrationRows is the event and the holder's place at it.
func (p *Pages) registrationRows(reg booking.Registration, e booking.Event) []row {
	status := "Confirmed: your seat is kept"
	switch reg.Status {
	case booking.RegWaitlisted:
		status = "On the waitlist, place " + strconv.Itoa(reg.WaitlistPosition) + ": we will email you if a seat frees up"
	case booking.RegCancelled:
		status = "Cancelled"
	}
	rows := []row{{Label: "Event", Value: e.Title}, {Label: "When", Value: p.span(e.StartsAt, e.EndsAt)}}
	if e.Location != "" {
		rows = append(rows, row{Label: "Where", Value: e.Location})
	}
	return append(rows, row{Label: "Name", Value: reg.Name}, row{Label: "Status", Value: status, Status: true})
}

// registrationOpen reports whether the holder may cancel: not yet
// cancelled, and the event still to start.
func (p *Pages) registrationOpen(reg booking.Registration, e booking.Event) bool {
	return reg.Status != booking.RegCancelled && e.StartsAt.After(p.cfg.Now())
}

func (p *Pages) registration(w http.ResponseWriter, r *http.Request) {
	id, token, err := request(r)
	if err != nil {
		p.fail(w, r, registrationKind, token, err)
		return
	}
	reg, e, err := p.svc.RegistrationByLink(r.Context(), id, token)
	if err != nil {
		p.fail(w, r, registrationKind, token, err)
		return
	}
	v := manageView{Title: "Your registration", Heading: e.Title, What: registrationKind.What, Rows: p.registrationRows(reg, e)}
	v.Notice, v.NoticeClass = cancelledNotice(r, registrationKind.What)
	switch {
	case p.registrationOpen(reg, e):
		v.CancelURL = registrationKind.confirm(id, token)
	case reg.Status == booking.RegCancelled && v.Notice == "":
		v.Notice, v.NoticeClass = "This registration has been cancelled.", "warn"
	}
	p.pages.Render(w, r, http.StatusOK, "manage", v)
}

func (p *Pages) confirmRegistration(w http.ResponseWriter, r *http.Request) {
	id, token, err := request(r)
	if err != nil {
		p.fail(w, r, registrationKind, token, err)
		return
	}
	reg, e, err := p.svc.RegistrationByLink(r.Context(), id, token)
	if err != nil {
		p.fail(w, r, registrationKind, token, err)
		return
	}
	if !p.registrationOpen(reg, e) {
		p.refused(w, r, registrationKind, id, token, booking.ErrIllegalTransition)
		return
	}
	p.pages.Render(w, r, http.StatusOK, "confirm", confirmView{Title: "Cancel your registration",
		Heading: "Cancel your registration?", What: registrationKind.What, Rows: p.registrationRows(reg, e),
		Action: registrationKind.Base + id.String() + "/cancel", Token: token, BackURL: registrationKind.view(id, token)})
}

func (p *Pages) cancelRegistration(w http.ResponseWriter, r *http.Request) {
	if err := webpage.ParseForm(w, r); err != nil {
		p.fail(w, r, registrationKind, "", err)
		return
	}
	id, token, err := request(r)
	if err != nil {
		p.fail(w, r, registrationKind, token, err)
		return
	}
	_, err = p.svc.CancelRegistrationByLink(r.Context(), id, token, "")
	switch {
	case err == nil:
		p.pages.Redirect(w, r, registrationKind.view(id, token)+"&cancelled=1")
	case conflict(err):
		p.refused(w, r, registrationKind, id, token, err)
	default:
		p.fail(w, r, registrationKind, token, err)
	}
}
