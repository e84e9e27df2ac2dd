// Package pages serves the pages a booker or registrant opens from the
// manage link in their email: see the booking or registration, cancel it
// after a confirmation step, see the result. They are server-rendered
// HTML without any script (libs/webpage: layout, stylesheet, headers)
// and call the same domain operations as the JSON API's manage-link
// endpoints, which stay for API clients.
package pages

import (
	"embed"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/acube/platform/libs/managelink"
	"github.com/acube/platform/libs/webpage"
	"github.com/acube/platform/services/booking/internal/booking"
)

//go:embed templates/*.html
var templates embed.FS

// Config is what the pages need besides the domain.
type Config struct {
	// Location is the time zone event times are shown in; nil is UTC.
	Location *time.Location
	// Now is the clock, for telling an expired link from a forged one
	// and a started event from one still to come; nil is time.Now.
	Now func() time.Time
}

// Pages holds what the handlers need.
type Pages struct {
	svc   *booking.Service
	pages *webpage.Pages
	log   *slog.Logger
	cfg   Config
}

// New returns the manage pages over svc.
func New(svc *booking.Service, log *slog.Logger, cfg Config) (*Pages, error) {
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	sub, err := fsSub()
	if err != nil {
		return nil, err
	}
	p, err := webpage.New(sub, nil, log)
	if err != nil {
		return nil, err
	}
	return &Pages{svc: svc, pages: p, log: log, cfg: cfg}, nil
}

// Routes mounts the pages on r: for each kind the view, the
// confirmation step and the cancellation it posts.
func (p *Pages) Routes(r chi.Router) {
	r.Get("/manage/sessions/{id}", p.session)
	r.Get("/manage/sessions/{id}/cancel", p.confirmSession)
	r.Post("/manage/sessions/{id}/cancel", p.cancelSession)
	r.Get("/manage/registrations/{id}", p.registration)
	r.Get("/manage/registrations/{id}/cancel", p.confirmRegistration)
	r.Post("/manage/registrations/{id}/cancel", p.cancelRegistration)
}

// Mount builds the pages and mounts them on r, for main's wiring.
func Mount(r chi.Router, svc *booking.Service, log *slog.Logger, cfg Config) error {
	p, err := New(svc, log, cfg)
	if err != nil {
		return err
	}
	p.Routes(r)
	return nil
}

// row is one line of a record's summary.
type row struct {
	Label, Value string
	// Status marks the status line, shown in bold.
	Status bool
}

// manageView fills manage.html.
type manageView struct {
	Title, Heading string
	// What is "booking" or "registration".
	What string
	Rows []row
	// Notice is a line above the summary: the result of a cancellation.
	Notice, NoticeClass string
	// CancelURL is the confirmation step; empty when nothing can be
	// cancelled.
	CancelURL string
}

// confirmView fills confirm.html.
type confirmView struct {
	Title, Heading, What string
	Rows                 []row
	Action, Token        string
	BackURL              string
	// AskReason offers the optional reason field (sessions only).
	AskReason   bool
	Reason      string
	ReasonError string
}

// problemView fills problem.html.
type problemView struct {
	Title, Heading, What string
	Paragraphs           []string
	BackURL              string
}

// kind is what differs between the pages of sessions and registrations.
type kind struct {
	// What names the record to its holder.
	What string
	// Base is the path of the view without the id.
	Base string
}

var (
	sessionKind      = kind{What: "booking", Base: "/manage/sessions/"}
	registrationKind = kind{What: "registration", Base: "/manage/registrations/"}
)

func (k kind) view(id uuid.UUID, token string) string {
	return k.Base + id.String() + "?token=" + url.QueryEscape(token)
}

func (k kind) confirm(id uuid.UUID, token string) string {
	return k.Base + id.String() + "/cancel?token=" + url.QueryEscape(token)
}

// request is a page request's record id and token: from the query on
// GET, from the form on POST.
func request(r *http.Request) (uuid.UUID, string, error) {
	id, err := uuid.Parse(chi.URLParam(r, "id"))
	if err != nil {
		return uuid.Nil, "", booking.ErrNotFound
	}
	token := r.URL.Query().Get("token")
	if r.Method == http.MethodPost {
		token = r.PostForm.Get("token")
	}
	if token == "" {
		return uuid.Nil, "", booking.ErrBadLink
	}
	return id, token, nil
}

// fail renders the page of an error: the one place a page request error
// becomes a status, and a 500 is logged.
func (p *Pages) fail(w http.ResponseWriter, r *http.Request, k kind, token string, err error) {
	v := problemView{Title: "Link not valid", What: k.What}
	status := http.StatusNotFound
	switch {
	case errors.Is(err, booking.ErrBadLink), errors.Is(err, booking.ErrNotFound):
		v.Heading = "This link does not work"
		v.Paragraphs = []string{
			"We could not find a " + k.What + " for this link. It may have been copied only in part: please open it again from your email.",
			"If you need help, reply to us through the contact form on our website.",
		}
		if exp, ok := managelink.Expiry(token); ok && !p.cfg.Now().Before(exp) {
			status, v.Title, v.Heading = http.StatusGone, "Link expired", "This link has expired"
			v.Paragraphs = []string{
				"Links in our emails stop working some time after the " + k.What + "'s date, to keep your details private.",
				"If you need help, reply to us through the contact form on our website.",
			}
		}
	case errors.As(err, new(*http.MaxBytesError)):
		status, v.Title, v.Heading = http.StatusRequestEntityTooLarge, "Form too large", "This form is too large"
		v.Paragraphs = []string{"Please shorten what you wrote and try again."}
	case errors.Is(err, webpage.ErrFormType):
		status, v.Title, v.Heading = http.StatusUnsupportedMediaType, "Form not understood", "We could not read this form"
		v.Paragraphs = []string{"Please go back to the link in your email and try again."}
	default:
		p.log.ErrorContext(r.Context(), "page request failed", "path", r.URL.Path, "error", err.Error())
		status, v.Title, v.Heading = http.StatusInternalServerError, "Something went wrong", "Something went wrong on our side"
		v.Paragraphs = []string{"Nothing was changed. Please try again in a few minutes."}
	}
	p.pages.Render(w, r, status, "problem", v)
}

// refused renders the page of a cancellation the domain refused (too
// late, already cancelled, finished), with a way back to the record.
func (p *Pages) refused(w http.ResponseWriter, r *http.Request, k kind, id uuid.UUID, token string, err error) {
	v := problemView{Title: "Cannot cancel", What: k.What, BackURL: k.view(id, token)}
	switch {
	case errors.Is(err, booking.ErrTooLate):
		v.Heading = "It is too late to cancel online"
		v.Paragraphs = []string{"Your " + k.What + " is too close to its date to be cancelled here. Please contact us through our website instead."}
	default:
		v.Heading = "This " + k.What + " cannot be cancelled"
		v.Paragraphs = []string{"It has already been cancelled or has taken place. Nothing was changed."}
	}
	p.pages.Render(w, r, http.StatusConflict, "problem", v)
}

// conflict reports whether err is a cancellation the domain refused.
func conflict(err error) bool {
	return errors.Is(err, booking.ErrTooLate) || errors.Is(err, booking.ErrIllegalTransition) ||
		errors.Is(err, booking.ErrEventPast) || errors.Is(err, booking.ErrEventEnded)
}

// cancelledNotice is the line the view shows right after a cancellation
// (the ?cancelled=1 of its redirect): the domain emitted the event the
// mailer turns into the confirmation email.
func cancelledNotice(r *http.Request, what string) (string, string) {
	if r.URL.Query().Get("cancelled") == "1" {
		return "Your " + what + " is cancelled. We are sending you an email to confirm it.", "done"
	}
	return "", ""
}

func (p *Pages) date(t time.Time) string {
	return t.Format("Monday, 2 January 2006")
}

func (p *Pages) span(from, to time.Time) string {
	from, to = from.In(p.cfg.Location), to.In(p.cfg.Location)
	if from.YearDay() == to.YearDay() && from.Year() == to.Year() {
		return p.date(from) + ", " + from.Format("15:04") + "–" + to.Format("15:04 MST")
	}
	return p.date(from) + ", " + from.Format("15:04") + " – " + p.date(to) + ", " + to.Format("15:04 MST")
}
