package pages

import (
	"errors"
	"net/http"

	"github.com/acube/platform/libs/webpage"
	"github.com/acube/platform/services/booking/internal/booking"
)

// sessionTypes name the session types to their booker.
var sessionTypes = map[booking.SessionType]string{
	booking.Individual: "Individual session", booking.Couple: "Couple session",
	booking.Family: "Family session", booking.Group: "Group session",
}

// sessionStatuses say what each status means to the booker.
var sessionStatuses = map[booking.Status]string{
	booking.Pending:   "Received: we will confirm it by email",
	booking.Confirmed: "Confirmed",
	booking.Completed: "Completed",
	booking.Cancelled: "Cancelled",
}

// sessionRows is what the booker gave and needs: nothing staff-only (no
// status reason or actor, no internal dates).
func (p *Pages) sessionRows(s booking.Session) []row {
	return []row{
		{Label: "Session", Value: sessionTypes[s.SessionType]},
		{Label: "Preferred date", Value: p.date(s.PreferredDate)},
		{Label: "Name", Value: s.Name},
		{Label: "Status", Value: sessionStatuses[s.Status], Status: true},
	}
}

// sessionOpen reports whether the booker may still try to cancel: the
// notice window is the domain's to check on the post.
func sessionOpen(s booking.Session) bool {
	return s.Status == booking.Pending || s.Status == booking.Confirmed
}

func (p *Pages) session(w http.ResponseWriter, r *http.Request) {
	id, token, err := request(r)
	if err != nil {
		p.fail(w, r, sessionKind, token, err)
		return
	}
	s, err := p.svc.SessionByLink(r.Context(), id, token)
	if err != nil {
		p.fail(w, r, sessionKind, token, err)
		return
	}
	v := manageView{Title: "Your booking", Heading: "Your booking", What: sessionKind.What, Rows: p.sessionRows(s)}
	v.Notice, v.NoticeClass = cancelledNotice(r, sessionKind.What)
	switch {
	case sessionOpen(s):
		v.CancelURL = sessionKind.confirm(id, token)
	case s.Status == booking.Cancelled && v.Notice == "":
		v.Notice, v.NoticeClass = "This booking has been cancelled.", "warn"
	}
	p.pages.Render(w, r, http.StatusOK, "manage", v)
}

func (p *Pages) confirmSession(w http.ResponseWriter, r *http.Request) {
	id, token, err := request(r)
	if err != nil {
		p.fail(w, r, sessionKind, token, err)
		return
	}
	s, err := p.svc.SessionByLink(r.Context(), id, token)
	if err != nil {
		p.fail(w, r, sessionKind, token, err)
		return
	}
	if !sessionOpen(s) {
		p.refused(w, r, sessionKind, id, token, booking.ErrIllegalTransition)
		return
	}
	p.pages.Render(w, r, http.StatusOK, "confirm", p.sessionConfirm(s, token, "", ""))
}

func (p *Pages) sessionConfirm(s booking.Session, token, reason, reasonErr string) confirmView {
	return confirmView{Title: "Cancel your booking", Heading: "Cancel your booking?", What: sessionKind.What,
		Rows: p.sessionRows(s), Action: sessionKind.Base + s.ID.String() + "/cancel", Token: token,
		BackURL: sessionKind.view(s.ID, token), AskReason: true, Reason: reason, ReasonError: reasonErr}
}

func (p *Pages) cancelSession(w http.ResponseWriter, r *http.Request) {
	if err := webpage.ParseForm(w, r); err != nil {
		p.fail(w, r, sessionKind, "", err)
		return
	}
	id, token, err := request(r)
	if err != nil {
		p.fail(w, r, sessionKind, token, err)
		return
	}
	reason := r.PostForm.Get("reason")
	_, err = p.svc.CancelSessionByLink(r.Context(), id, token, reason)
	var invalid *booking.ValidationError
	switch {
	case err == nil:
		p.pages.Redirect(w, r, sessionKind.view(id, token)+"&cancelled=1")
	case errors.As(err, &invalid):
		// The form again, the reason kept, its error next to it.
		s, gerr := p.svc.SessionByLink(r.Context(), id, token)
		if gerr != nil {
			p.fail(w, r, sessionKind, token, gerr)
			return
		}
		p.pages.Render(w, r, http.StatusUnprocessableEntity, "confirm", p.sessionConfirm(s, token, reason, invalid.Fields["reason"]))
	case conflict(err):
		p.refused(w, r, sessionKind, id, token, err)
	default:
		p.fail(w, r, sessionKind, token, err)
	}
}
