package pages

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/acube/platform/libs/managelink"
	"github.com/acube/platform/libs/postgres"
	"github.com/acube/platform/libs/postgres/pgtest"
	"github.com/acube/platform/services/booking/internal/booking"
	"github.com/acube/platform/services/booking/internal/migrations"
	"github.com/acube/platform/services/booking/internal/store"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// fixture is the pages over a real booking service and its own database.
type fixture struct {
	srv   *httptest.Server
	svc   *booking.Service
	links *managelink.Signer
	clock *clock
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
	c := &clock{t: time.Now().UTC()}
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

type answer struct {
	status   int
	body     string
	header   http.Header
	location string
}

func (f *fixture) do(t *testing.T, method, path, ctype string, form url.Values) answer {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, f.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, body: string(raw), header: resp.Header, location: resp.Header.Get("Location")}
}

const formType = "application/x-www-form-urlencoded"

// step is one request of a page flow, in order: later steps see what
// earlier ones changed.
type step struct {
	name       string
	method     string
	path       string
	ctype      string
	form       url.Values
	wantStatus int
	want       []string
	wantNot    []string
	wantLoc    string
}

func run(t *testing.T, f *fixture, steps []step) {
	t.Helper()
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			a := f.do(t, st.method, st.path, st.ctype, st.form)
			if a.status != st.wantStatus {
				t.Fatalf("status %d, want %d; body:\n%s", a.status, st.wantStatus, a.body)
			}
			checkHeaders(t, a)
			if st.wantLoc != "" && a.location != st.wantLoc {
				t.Errorf("Location %q, want %q", a.location, st.wantLoc)
			}
			for _, w := range st.want {
				if !strings.Contains(a.body, w) {
					t.Errorf("page lacks %q:\n%s", w, a.body)
				}
			}
			for _, w := range st.wantNot {
				if strings.Contains(a.body, w) {
					t.Errorf("page shows %q:\n%s", w, a.body)
				}
			}
		})
	}
}

// checkHeaders: every answer, error pages and redirects included, is
// HTML (or empty) with the pages' headers, never JSON.
func checkHeaders(t *testing.T, a answer) {
	t.Helper()
	if a.status != http.StatusSeeOther {
		if ct := a.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("Content-Type %q", ct)
		}
		for _, w := range []string{`<html lang="en">`, `name="viewport"`, "<main", "<h1>"} {
			if !strings.Contains(a.body, w) {
				t.Errorf("page lacks %s", w)
			}
		}
		if strings.Count(a.body, "<h1") != 1 || strings.Contains(a.body, "<script") {
			t.Errorf("want exactly one h1 and no script:\n%s", a.body)
		}
	}
	csp := a.header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "style-src 'sha256-") || !strings.Contains(csp, "form-action 'self'") ||
		!strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "script-src") {
		t.Errorf("CSP %q", csp)
	}
	if a.header.Get("Referrer-Policy") != "no-referrer" || a.header.Get("Cache-Control") != "no-store" {
		t.Errorf("Referrer-Policy %q, Cache-Control %q", a.header.Get("Referrer-Policy"), a.header.Get("Cache-Control"))
	}
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
	run(t, f, []step{
		{name: "view", method: "GET", path: view + q, wantStatus: 200,
			want:    []string{"Your booking", "Individual session", "Ada Lovelace", "Received", `href="` + cancel + "?token=", "Cancel this booking"},
			wantNot: []string{"staff-only message", "0123456789", "ada@example.org"}},
		{name: "forged token", method: "GET", path: view + "?token=" + url.QueryEscape(f.links.Sign(managelink.KindRegistration, s.ID.String(), f.clock.Now().Add(time.Hour))),
			wantStatus: 404, want: []string{"This link does not work"}, wantNot: []string{"Ada"}},
		{name: "expired token", method: "GET", path: view + "?token=" + url.QueryEscape(f.token(managelink.KindSession, s.ID, -time.Hour)),
			wantStatus: 410, want: []string{"This link has expired"}, wantNot: []string{"Ada"}},
		{name: "no token", method: "GET", path: view, wantStatus: 404, want: []string{"This link does not work"}},
		{name: "malformed id", method: "GET", path: "/manage/sessions/nope" + q, wantStatus: 404, want: []string{"This link does not work"}},
		{name: "unknown id", method: "GET", path: "/manage/sessions/" + uuid.NewString() + q, wantStatus: 404},
		{name: "confirmation step", method: "GET", path: cancel + q, wantStatus: 200,
			want: []string{`<form method="post" action="` + cancel + `">`, `name="token" value="` + tok + `"`, `<label for="reason">`, "Yes, cancel this booking"}},
		{name: "json body refused", method: "POST", path: cancel, ctype: "application/json", form: form(), wantStatus: 415},
		{name: "forged token post", method: "POST", path: cancel, ctype: formType, form: url.Values{"token": {"9999999999.forged"}}, wantStatus: 404},
		{name: "reason too long", method: "POST", path: cancel, ctype: formType, form: form("reason", "kept "+strings.Repeat("x", 1200)),
			wantStatus: 422, want: []string{`aria-invalid="true"`, `class="error"`, ">kept xxx"}},
		{name: "cancel", method: "POST", path: cancel, ctype: formType, form: form("reason", "feeling better"),
			wantStatus: 303, wantLoc: view + q + "&cancelled=1"},
		{name: "result", method: "GET", path: view + q + "&cancelled=1", wantStatus: 200,
			want: []string{"Your booking is cancelled", "sending you an email", "Cancelled"}, wantNot: []string{"Cancel this booking"}},
		{name: "view of a cancelled booking", method: "GET", path: view + q, wantStatus: 200,
			want: []string{"This booking has been cancelled."}, wantNot: []string{"Cancel this booking", "sending you an email"}},
		{name: "already cancelled: confirmation", method: "GET", path: cancel + q, wantStatus: 409, want: []string{"cannot be cancelled"}},
		{name: "already cancelled: post", method: "POST", path: cancel, ctype: formType, form: form(), wantStatus: 409,
			want: []string{"already been cancelled", `href="` + view + "?token="}},
	})

	t.Run("too late", func(t *testing.T) {
		late := f.book(t, 2*24*time.Hour)
		ltok := f.token(managelink.KindSession, late.ID, 10*24*time.Hour)
		f.clock.Set(late.PreferredDate.Add(-12 * time.Hour))
		defer f.clock.Set(time.Now().UTC())
		run(t, f, []step{{name: "post", method: "POST", path: "/manage/sessions/" + late.ID.String() + "/cancel", ctype: formType,
			form: url.Values{"token": {ltok}}, wantStatus: 409, want: []string{"too late to cancel online"}}})
	})
}

func TestIntegrationRegistrationPages(t *testing.T) {
	f := newFixture(t)
	reg := f.register(t)
	tok := f.token(managelink.KindRegistration, reg.ID, 30*24*time.Hour)
	q := "?token=" + url.QueryEscape(tok)
	view, cancel := "/manage/registrations/"+reg.ID.String(), "/manage/registrations/"+reg.ID.String()+"/cancel"
	run(t, f, []step{
		{name: "view", method: "GET", path: view + q, wantStatus: 200,
			want:    []string{"<h1>Coping with stress</h1>", "A-Cube Centre, Room 2", "Grace Hopper", "Confirmed", "Cancel this registration", " UTC"},
			wantNot: []string{"grace@example.org", "0123456789"}},
		{name: "session token", method: "GET", path: view + "?token=" + url.QueryEscape(f.token(managelink.KindSession, reg.ID, time.Hour)), wantStatus: 404},
		{name: "expired token", method: "GET", path: view + "?token=" + url.QueryEscape(f.token(managelink.KindRegistration, reg.ID, -time.Minute)), wantStatus: 410},
		{name: "confirmation step", method: "GET", path: cancel + q, wantStatus: 200,
			want: []string{`action="` + cancel + `"`, "Yes, cancel this registration"}, wantNot: []string{`name="reason"`}},
		{name: "no content type", method: "POST", path: cancel, form: url.Values{"token": {tok}}, wantStatus: 415},
		{name: "too large", method: "POST", path: cancel, ctype: formType, form: url.Values{"token": {tok}, "pad": {strings.Repeat("x", 40<<10)}}, wantStatus: 413},
		{name: "cancel", method: "POST", path: cancel, ctype: formType, form: url.Values{"token": {tok}}, wantStatus: 303, wantLoc: view + q + "&cancelled=1"},
		{name: "result", method: "GET", path: view + q + "&cancelled=1", wantStatus: 200,
			want: []string{"Your registration is cancelled", "Cancelled"}, wantNot: []string{"Cancel this registration"}},
		{name: "already cancelled", method: "POST", path: cancel, ctype: formType, form: url.Values{"token": {tok}}, wantStatus: 409},
	})
}
