package pages

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/acube/platform/libs/managelink"
	"github.com/acube/platform/libs/postgres"
	"github.com/acube/platform/libs/postgres/pgtest"
	"github.com/acube/platform/libs/testkit"
	"github.com/acube/platform/libs/webpage/webpagetest"
	"github.com/acube/platform/services/booking/internal/booking"
	"github.com/acube/platform/services/booking/internal/migrations"
	"github.com/acube/platform/services/booking/internal/store"
)

// fixture is the pages over a real booking service and its own database.
type fixture struct {
	srv   *httptest.Server
	svc   *booking.Service
	links *managelink.Signer
	clock *testkit.Clock
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	pool, err := postgres.Open(ctx, postgres.Config{URL: pgtest.NewMigrated(t, "booking", migrations.Sets()...), Schema: "booking", MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	links, err := managelink.NewSigner([]byte(strings.Repeat("k", managelink.MinSecretLen)))
	if err != nil {
		t.Fatal(err)
	}
	c := testkit.NewClock(time.Now().UTC())
	svc := booking.NewService(store.New(pool, store.Config{}), links, nil, c.Now, booking.Config{
		PublicBaseURL: "http://booking.test", LinkTTL: 7 * 24 * time.Hour, CancelNotice: 24 * time.Hour})
	r := chi.NewRouter()
	if err := Mount(r, svc, log, Config{Now: c.Now}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return &fixture{srv: srv, svc: svc, links: links, clock: c}
}

// book books a session for the given day from now.
func (f *fixture) book(t *testing.T, in time.Duration) booking.Session {
	t.Helper()
	s, _, err := f.svc.Book(context.Background(), booking.BookRequest{Email: "ada@example.org", Name: "Ada Lovelace",
		Phone: "0123456789", SessionType: "individual", PreferredDate: f.clock.Now().Add(in).Format(time.DateOnly),
		Message: "staff-only message"}, booking.IdempotencyKey{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// register registers for a new event a week ahead.
func (f *fixture) register(t *testing.T) booking.Registration {
	t.Helper()
	ctx := context.Background()
	start := f.clock.Now().Add(7 * 24 * time.Hour).Truncate(time.Hour)
	e, err := f.svc.CreateEvent(ctx, booking.Actor{Email: "staff@example.org"}, booking.EventRequest{Title: "Coping with stress",
		Description: "A talk.", Location: "A-Cube Centre, Room 2", StartsAt: start.Format(time.RFC3339),
		EndsAt: start.Add(2 * time.Hour).Format(time.RFC3339), Capacity: 10})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := f.svc.Register(ctx, e.ID, booking.RegisterRequest{Email: "grace@example.org", Name: "Grace Hopper", Phone: "0123456789"})
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// token signs a manage token for (kind, id) valid for d from now.
func (f *fixture) token(kind string, id uuid.UUID, d time.Duration) string {
	return f.links.Sign(kind, id.String(), f.clock.Now().Add(d))
}

func TestIntegrationSessionPages(t *testing.T) {
	f := newFixture(t)
	s := f.book(t, 30*24*time.Hour)
	tok := f.token(managelink.KindSession, s.ID, 40*24*time.Hour)
	q := "?token=" + url.QueryEscape(tok)
	view, cancel := "/manage/sessions/"+s.ID.String(), "/manage/sessions/"+s.ID.String()+"/cancel"
	form := func(extra ...string) url.Values {
		v := url.Values{"token": {tok}}
		for i := 0; i+1 < len(extra); i += 2 {
			v.Set(extra[i], extra[i+1])
		}
		return v
	}
	webpagetest.Run(t, f.srv.URL, []webpagetest.Step{
		{Name: "view", Method: "GET", Path: view + q, WantStatus: 200,
			Want:    []string{"Your booking", "Individual session", "Ada Lovelace", "Received", `href="` + cancel + "?token=", "Cancel this booking"},
			WantNot: []string{"staff-only message", "0123456789", "ada@example.org"}},
		{Name: "forged token", Method: "GET", Path: view + "?token=" + url.QueryEscape(f.links.Sign(managelink.KindRegistration, s.ID.String(), f.clock.Now().Add(time.Hour))),
			WantStatus: 404, Want: []string{"This link does not work"}, WantNot: []string{"Ada"}},
		{Name: "expired token", Method: "GET", Path: view + "?token=" + url.QueryEscape(f.token(managelink.KindSession, s.ID, -time.Hour)),
			WantStatus: 410, Want: []string{"This link has expired"}, WantNot: []string{"Ada"}},
		{Name: "no token", Method: "GET", Path: view, WantStatus: 404, Want: []string{"This link does not work"}},
		{Name: "malformed id", Method: "GET", Path: "/manage/sessions/nope" + q, WantStatus: 404, Want: []string{"This link does not work"}},
		{Name: "unknown id", Method: "GET", Path: "/manage/sessions/" + uuid.NewString() + q, WantStatus: 404},
		{Name: "confirmation step", Method: "GET", Path: cancel + q, WantStatus: 200,
			Want: []string{`<form method="post" action="` + cancel + `">`, `name="token" value="` + tok + `"`, `<label for="reason">`, "Yes, cancel this booking"}},
		{Name: "json body refused", Method: "POST", Path: cancel, CType: "application/json", Form: form(), WantStatus: 415},
		{Name: "forged token post", Method: "POST", Path: cancel, CType: webpagetest.FormType, Form: url.Values{"token": {"9999999999.forged"}}, WantStatus: 404},
		{Name: "reason too long", Method: "POST", Path: cancel, CType: webpagetest.FormType, Form: form("reason", "kept "+strings.Repeat("x", 1200)),
			WantStatus: 422, Want: []string{`aria-invalid="true"`, `class="error"`, ">kept xxx"}},
		{Name: "cancel", Method: "POST", Path: cancel, CType: webpagetest.FormType, Form: form("reason", "feeling better"),
			WantStatus: 303, WantLoc: view + q + "&cancelled=1"},
		{Name: "result", Method: "GET", Path: view + q + "&cancelled=1", WantStatus: 200,
			Want: []string{"Your booking is cancelled", "sending you an email", "Cancelled"}, WantNot: []string{"Cancel this booking"}},
		{Name: "view of a cancelled booking", Method: "GET", Path: view + q, WantStatus: 200,
			Want: []string{"This booking has been cancelled."}, WantNot: []string{"Cancel this booking", "sending you an email"}},
		{Name: "already cancelled: confirmation", Method: "GET", Path: cancel + q, WantStatus: 409, Want: []string{"cannot be cancelled"}},
		{Name: "already cancelled: post", Method: "POST", Path: cancel, CType: webpagetest.FormType, Form: form(), WantStatus: 409,
			Want: []string{"already been cancelled", `href="` + view + "?token="}},
	})

	t.Run("too late", func(t *testing.T) {
		late := f.book(t, 2*24*time.Hour)
		ltok := f.token(managelink.KindSession, late.ID, 10*24*time.Hour)
		f.clock.Set(late.PreferredDate.Add(-12 * time.Hour))
		defer f.clock.Set(time.Now().UTC())
		webpagetest.Run(t, f.srv.URL, []webpagetest.Step{{Name: "post", Method: "POST", Path: "/manage/sessions/" + late.ID.String() + "/cancel", CType: webpagetest.FormType,
			Form: url.Values{"token": {ltok}}, WantStatus: 409, Want: []string{"too late to cancel online"}}})
	})
}

func TestIntegrationRegistrationPages(t *testing.T) {
	f := newFixture(t)
	reg := f.register(t)
	tok := f.token(managelink.KindRegistration, reg.ID, 30*24*time.Hour)
	q := "?token=" + url.QueryEscape(tok)
	view, cancel := "/manage/registrations/"+reg.ID.String(), "/manage/registrations/"+reg.ID.String()+"/cancel"
	webpagetest.Run(t, f.srv.URL, []webpagetest.Step{
		{Name: "view", Method: "GET", Path: view + q, WantStatus: 200,
			Want:    []string{"<h1>Coping with stress</h1>", "A-Cube Centre, Room 2", "Grace Hopper", "Confirmed", "Cancel this registration", " UTC"},
			WantNot: []string{"grace@example.org", "0123456789"}},
		{Name: "session token", Method: "GET", Path: view + "?token=" + url.QueryEscape(f.token(managelink.KindSession, reg.ID, time.Hour)), WantStatus: 404},
		{Name: "expired token", Method: "GET", Path: view + "?token=" + url.QueryEscape(f.token(managelink.KindRegistration, reg.ID, -time.Minute)), WantStatus: 410},
		{Name: "confirmation step", Method: "GET", Path: cancel + q, WantStatus: 200,
			Want: []string{`action="` + cancel + `"`, "Yes, cancel this registration"}, WantNot: []string{`name="reason"`}},
		{Name: "no content type", Method: "POST", Path: cancel, Form: url.Values{"token": {tok}}, WantStatus: 415},
		{Name: "too large", Method: "POST", Path: cancel, CType: webpagetest.FormType, Form: url.Values{"token": {tok}, "pad": {strings.Repeat("x", 40<<10)}}, WantStatus: 413},
		{Name: "cancel", Method: "POST", Path: cancel, CType: webpagetest.FormType, Form: url.Values{"token": {tok}}, WantStatus: 303, WantLoc: view + q + "&cancelled=1"},
		{Name: "result", Method: "GET", Path: view + q + "&cancelled=1", WantStatus: 200,
			Want: []string{"Your registration is cancelled", "Cancelled"}, WantNot: []string{"Cancel this registration"}},
		{Name: "already cancelled", Method: "POST", Path: cancel, CType: webpagetest.FormType, Form: url.Values{"token": {tok}}, WantStatus: 409},
	})
}
