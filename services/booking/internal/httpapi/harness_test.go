package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/acube/platform/libs/apispec/apitest"
	"github.com/acube/platform/libs/authn"
	"github.com/acube/platform/libs/authn/authntest"
	"github.com/acube/platform/libs/clientip"
	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/managelink"
	"github.com/acube/platform/libs/objstore/objstoretest"
	"github.com/acube/platform/libs/outbox/outboxtest"
	"github.com/acube/platform/libs/postgres"
	"github.com/acube/platform/libs/postgres/pgtest"
	"github.com/acube/platform/libs/stream"
	"github.com/acube/platform/libs/testkit"
	"github.com/acube/platform/libs/web"
	"github.com/acube/platform/services/booking/internal/booking"
	"github.com/acube/platform/services/booking/internal/images"
	"github.com/acube/platform/services/booking/internal/migrations"
	"github.com/acube/platform/services/booking/internal/store"
)

// harness is a booking API over its own database, with a key to sign
// admin tokens.
type harness struct {
	t     *testing.T
	srv   *httptest.Server
	pool  *pgxpool.Pool
	svc   *booking.Service
	clock *testkit.Clock
	iss   *authntest.Issuer // signs admin tokens
	admin string            // a valid admin bearer token
	// natsURL is the server of the IMAGES bucket and verifier checks
	// tokens: what another replica over the same database needs.
	natsURL  string
	verifier *authn.Verifier
	// links signs manage links as the mailer does (libs/managelink).
	links *managelink.Signer
}

const testBase = "http://booking.test"

func newHarness(t *testing.T) *harness {
	t.Helper()
	url := pgtest.NewMigrated(t, "booking", migrations.Sets()...)
	ctx := context.Background()
	pool, err := postgres.Open(ctx, postgres.Config{URL: url, Schema: "booking", MaxConns: 12})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	iss := authntest.NewIssuer(t)
	v, err := authn.NewVerifier(authn.Config{Issuer: "acube-admin", Audience: "acube", StaticKeys: iss.PublicKeys()})
	if err != nil {
		t.Fatal(err)
	}
	signer, err := managelink.NewSigner([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	bucket, ns := objstoretest.Start(t, stream.EventImages(1))
	imgs := images.New(bucket)
	c := testkit.NewClock(time.Now().UTC())
	svc := booking.NewService(store.New(pool, store.Config{}), signer, imgs, c.Now, booking.Config{
		PublicBaseURL: testBase, LinkTTL: 7 * 24 * time.Hour, CancelNotice: 24 * time.Hour})
	api := New(svc, v, imgs, log, Config{Clients: loopbackClients(t), MaxImageBytes: 64 << 10})
	r := chi.NewRouter()
	r.Use(web.RequestIDs)
	r.NotFound(web.NotFoundHandler)
	api.Routes(r)
	// Every exchange of every test is checked against the OpenAPI
	// document (issue 14): a response it does not describe fails the test.
	srv := httptest.NewServer(apitest.New(t).Handler(r))
	t.Cleanup(srv.Close)
	h := &harness{t: t, srv: srv, pool: pool, svc: svc, clock: c, iss: iss, natsURL: ns.URL(), verifier: v, links: signer}
	h.admin = h.token(func(*authn.Claims) {})
	t.Cleanup(h.noSecretsInOutbox)
	return h
}

// noSecretsInOutbox fails the test if any event booking wrote carries a
// manage link or token: events are kept for days in BOOKING and
// DEADLETTER and readable through the dead-letter API, so the mailer
// mints links from ids instead (issue 13, finding 8).
func (h *harness) noSecretsInOutbox() {
	for _, ev := range h.outbox("") {
		for _, bad := range []string{"token=", `"manage_url"`, `"token"`, `_token"`} {
			if bytes.Contains(ev.Data, []byte(bad)) {
				h.t.Errorf("%s event carries %s: %s", ev.Type, bad, ev.Data)
			}
		}
	}
}

// token signs an admin access token, changed by mod.
func (h *harness) token(mod func(*authn.Claims)) string {
	h.t.Helper()
	now := time.Now()
	c := authn.Claims{
		RegisteredClaims: jwt.RegisteredClaims{Issuer: "acube-admin", Subject: "0190-admin-ada",
			Audience: jwt.ClaimStrings{"acube"}, IssuedAt: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(10 * time.Minute))},
		Email: "ada@example.org", Role: authn.RoleAdmin,
	}
	mod(&c)
	return h.iss.Sign(h.t, c)
}

// response is a finished request.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// do sends a request; body is JSON text unless a Content-Type header is
// given; headers come in name, value pairs. A bearer token is sent only
// when "Authorization" is among them.
func (h *harness) do(method, path, body string, headers ...string) response {
	h.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, h.srv.URL+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: raw}
}

// asAdmin is do with the admin token.
func (h *harness) asAdmin(method, path, body string) response {
	h.t.Helper()
	return h.do(method, path, body, "Authorization", "Bearer "+h.admin)
}

// outbox returns the events written so far, in order, with subject prefix.
func (h *harness) outbox(prefix string) []events.Event {
	h.t.Helper()
	return outboxtest.Prefixed(h.t, h.pool, prefix)
}

func futureDate(days int) string {
	return time.Now().UTC().AddDate(0, 0, days).Format(time.DateOnly)
}

func bookBody(email, date string) string {
	return `{"email":"` + email + `","name":"Test","phone":"1234567890","session_type":"individual","preferred_date":"` + date + `","message":"Test"}`
}

// fixedNow is the time of tests that need no database.
func fixedNow() time.Time { return time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC) }

// loopbackClients resolves client addresses trusting the loopback proxy,
// as booking's default BOOKING_TRUSTED_PROXIES does.
func loopbackClients(t testing.TB) *clientip.Resolver {
	t.Helper()
	c, err := clientip.New(clientip.Config{TrustedProxies: []string{"127.0.0.0/8"}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// manageLink mints the manage link of record id of kind as the mailer
// does from a booking event: booking's events carry only the id and the
// link's expiry, never a link or token (issue 13, finding 8).
func (h *harness) manageLink(kind string, id uuid.UUID, expires time.Time) *url.URL {
	h.t.Helper()
	if expires.IsZero() {
		h.t.Fatalf("%s %s: event has no manage_expires", kind, id)
	}
	raw := h.links.SessionURL(testBase, id.String(), expires)
	if kind == managelink.KindRegistration {
		raw = h.links.RegistrationURL(testBase, id.String(), expires)
	}
	u, err := url.Parse(raw)
	if err != nil {
		h.t.Fatal(err)
	}
	return u
}
