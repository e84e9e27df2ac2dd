// Package pages serves the invitation page an invited admin opens from
// the link in the invitation email: a form to choose a password, which
// accepts the invitation through the same account-service call as
// POST /api/admin/invitations/accept (the same rules, the breached-
// password check included), and a page that says what comes next. It is
// server-rendered HTML without any script (libs/webpage).
package pages

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/acube/platform/libs/webpage"
	"github.com/acube/platform/services/admin/internal/account"
)

//go:embed templates/*.html
var templates embed.FS

// Path is where the page is served; the invitation links lead here
// unless ADMIN_INVITATION_PATH points elsewhere.
const Path = "/admin/invitation"

// Accepter checks and accepts invitations: account.Service.
type Accepter interface {
	CheckInvitation(ctx context.Context, token string) error
	AcceptInvitation(ctx context.Context, token, password, clientIP string) error
}

// Config is what the page needs besides the account service.
type Config struct {
	// MinLength is the shortest password accepted, stated on the form
	// (ADMIN_PASSWORD_MIN_LENGTH).
	MinLength int
	// ClientIP is the client address of a request, for the audit record
	// of the acceptance (clientip.Resolver.Addr).
	ClientIP func(*http.Request) string
}

// Pages holds what the handlers need.
type Pages struct {
	accounts Accepter
	pages    *webpage.Pages
	log      *slog.Logger
	cfg      Config
}

// New returns the invitation page over accounts.
func New(accounts Accepter, log *slog.Logger, cfg Config) (*Pages, error) {
	if cfg.ClientIP == nil {
		return nil, errors.New("invitation page: no client address resolver")
	}
	sub, err := fs.Sub(templates, "templates")
	if err != nil {
		return nil, fmt.Errorf("page templates: %w", err)
	}
	p, err := webpage.New(sub, nil, log)
	if err != nil {
		return nil, err
	}
	return &Pages{accounts: accounts, pages: p, log: log, cfg: cfg}, nil
}

// Mount builds the page and mounts it on r, for main's wiring.
func Mount(r chi.Router, accounts Accepter, log *slog.Logger, cfg Config) error {
	p, err := New(accounts, log, cfg)
	if err != nil {
		return err
	}
	p.Routes(r)
	return nil
}

// Routes mounts the page on r.
func (p *Pages) Routes(r chi.Router) {
	r.Get(Path, p.form)
	r.Post(Path, p.accept)
}

// formView fills invitation.html. Passwords are never put back into the
// form; the token is.
type formView struct {
	Title, Action, Token string
	MinLength            int
	FormError            string
	PasswordError        string
	ConfirmError         string
}

// problemView fills problem.html.
type problemView struct {
	Title, Heading string
	Paragraphs     []string
}

func (p *Pages) form(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("accepted") == "1" {
		p.pages.Render(w, r, http.StatusOK, "done", problemView{Title: "Password set"})
		return
	}
	token := r.URL.Query().Get("token")
	if token == "" {
		p.fail(w, r, account.ErrInvitationInvalid)
		return
	}
	// A dead link says so at once, before anyone chooses a password.
	if err := p.accounts.CheckInvitation(r.Context(), token); err != nil {
		p.fail(w, r, err)
		return
	}
	p.pages.Render(w, r, http.StatusOK, "invitation", p.view(token))
}

func (p *Pages) view(token string) formView {
	return formView{Title: "Choose your password", Action: Path, Token: token, MinLength: p.cfg.MinLength}
}

func (p *Pages) accept(w http.ResponseWriter, r *http.Request) {
	if err := webpage.ParseForm(w, r); err != nil {
		p.fail(w, r, err)
		return
	}
	token, pw := r.PostForm.Get("token"), r.PostForm.Get("password")
	if token == "" {
		p.fail(w, r, account.ErrInvitationInvalid)
		return
	}
	v := p.view(token)
	switch {
	case pw == "":
		v.PasswordError = "is required"
	case r.PostForm.Get("confirm") != pw:
		v.ConfirmError = "The two passwords do not match: type the same password twice."
	}
	if v.PasswordError != "" || v.ConfirmError != "" {
		v.FormError = "Your password was not set. Please correct the form below."
		p.pages.Render(w, r, http.StatusUnprocessableEntity, "invitation", v)
		return
	}
	err := p.accounts.AcceptInvitation(r.Context(), token, pw, p.cfg.ClientIP(r))
	var invalid *account.ValidationError
	switch {
	case err == nil:
		p.pages.Redirect(w, r, Path+"?accepted=1")
	case errors.As(err, &invalid) && invalid.Fields["password"] != "":
		v.PasswordError = invalid.Fields["password"]
		v.FormError = "Your password was not set. Please choose another one."
		p.pages.Render(w, r, http.StatusUnprocessableEntity, "invitation", v)
	case errors.As(err, &invalid):
		p.fail(w, r, account.ErrInvitationInvalid)
	default:
		p.fail(w, r, err)
	}
}

// fail renders the page of an error: the one place a page request error
// becomes a status, and a 500 is logged.
func (p *Pages) fail(w http.ResponseWriter, r *http.Request, err error) {
	v := problemView{Title: "Invitation"}
	status := http.StatusNotFound
	switch {
	case errors.Is(err, account.ErrInvitationInvalid):
		v.Heading = "This invitation link does not work"
		v.Paragraphs = []string{"It may have been copied only in part: please open it again from the invitation email.",
			"If it still does not work, ask the superadmin who invited you to send a new invitation."}
	case errors.Is(err, account.ErrInvitationUsed):
		status, v.Heading = http.StatusGone, "This invitation has been used already"
		v.Paragraphs = []string{"Your password is set: sign in to the A-Cube admin with your email address and that password.",
			"Forgot it? Ask a superadmin to help you."}
	case errors.Is(err, account.ErrInvitationExpired):
		status, v.Heading = http.StatusGone, "This invitation has expired"
		v.Paragraphs = []string{"Invitations work once and for a limited time, and a newer invitation replaces an older one.",
			"Ask the superadmin who invited you to send a new invitation."}
	case errors.As(err, new(*http.MaxBytesError)):
		status, v.Heading = http.StatusRequestEntityTooLarge, "This form is too large"
		v.Paragraphs = []string{"Please go back to the link in your email and try again."}
	case errors.Is(err, webpage.ErrFormType):
		status, v.Heading = http.StatusUnsupportedMediaType, "We could not read this form"
		v.Paragraphs = []string{"Please go back to the link in your email and try again."}
	default:
		p.log.ErrorContext(r.Context(), "invitation page failed", "error", err.Error())
		status, v.Heading = http.StatusInternalServerError, "Something went wrong on our side"
		v.Paragraphs = []string{"Your password was not set. Please try again in a few minutes."}
	}
	p.pages.Render(w, r, status, "problem", v)
}
