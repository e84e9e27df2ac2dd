package authn

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/logging/logtest"
	"github.com/acube/platform/libs/natstest"
	"github.com/acube/platform/libs/stream"
	"github.com/acube/platform/libs/testkit"
)

func newRevocations(t *testing.T, cfg RevocationsConfig) (*Revocations, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	if cfg.Name == "" {
		cfg.Name = "test"
	}
	cfg.Registerer = reg
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	r, err := NewRevocations(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r, reg
}

// TestRevocationsCheck: which tokens a set of revocations refuses. Times
// are whole seconds in tokens (iat), so a NotBefore inside a second
// refuses that whole second.
func TestRevocationsCheck(t *testing.T) {
	t.Parallel()
	admin, other := uuid.New(), uuid.New()
	clock := testkit.NewClock(t0)
	r, _ := newRevocations(t, RevocationsConfig{MaxTokenAge: 10 * time.Minute, Leeway: 5 * time.Second, Now: clock.Now})
	r.current.Store(true)
	revokedAt := t0.Add(-time.Minute).Add(300 * time.Millisecond) // 03:03:05.3
	r.Revoke(events.SessionsRevoked{AdminID: admin, SessionID: "s1", NotBefore: revokedAt, Reason: events.RevokeReasonLogout})
	r.Revoke(events.SessionsRevoked{AdminID: other, NotBefore: revokedAt, Reason: events.RevokeReasonDisabled})
	// An earlier revocation of the same admin does not undo a later one.
	r.Revoke(events.SessionsRevoked{AdminID: other, NotBefore: revokedAt.Add(-time.Hour), Reason: events.RevokeReasonRoleChanged})

	token := func(a uuid.UUID, sid string, iat time.Time) *Claims {
		c := claimsAt(iat)
		c.Subject, c.SessionID = a.String(), sid
		return &c
	}
	tests := []struct {
		name    string
		claims  *Claims
		wantErr error
	}{
		{name: "revoked session, issued long before", claims: token(admin, "s1", t0.Add(-5*time.Minute)), wantErr: ErrRevoked},
		{name: "revoked session, issued in the second of the revocation", claims: token(admin, "s1", t0.Add(-time.Minute)), wantErr: ErrRevoked},
		{name: "revoked session, issued the second after", claims: token(admin, "s1", t0.Add(-time.Minute+time.Second))},
		{name: "other session of the same admin", claims: token(admin, "s2", t0.Add(-5*time.Minute))},
		{name: "token without a session id", claims: token(admin, "", t0.Add(-5*time.Minute))},
		{name: "disabled admin, any session", claims: token(other, "s9", t0.Add(-2*time.Minute)), wantErr: ErrRevoked},
		{name: "disabled admin, no session id", claims: token(other, "", t0.Add(-2*time.Minute)), wantErr: ErrRevoked},
		{name: "admin revocation by an upper-case subject", claims: func() *Claims {
			c := token(other, "", t0.Add(-2*time.Minute))
			c.Subject = upper(other.String())
			return c
		}(), wantErr: ErrRevoked},
		{name: "disabled admin, token issued after NotBefore", claims: token(other, "s9", RevokeBefore(revokedAt))},
		{name: "token living longer than revocations are kept", claims: func() *Claims {
			c := token(admin, "s2", t0.Add(-time.Minute))
			c.ExpiresAt = jwt.NewNumericDate(c.IssuedAt.Add(11 * time.Minute))
			return c
		}(), wantErr: ErrInvalidToken},
		{name: "token without iat", claims: func() *Claims { c := token(admin, "s2", t0); c.IssuedAt = nil; return c }(), wantErr: ErrInvalidToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := r.Check(tt.claims)
			if tt.wantErr == nil && err != nil {
				t.Fatalf("Check: %v", err)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("Check = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil && !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("Check = %v, does not wrap ErrInvalidToken (a 401)", err)
			}
		})
	}

	r.current.Store(false)
	if err := r.Check(token(admin, "s2", t0)); !errors.Is(err, ErrRevocationsUnknown) || errors.Is(err, ErrInvalidToken) {
		t.Fatalf("Check while not current = %v, want ErrRevocationsUnknown alone", err)
	}
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// TestRevocationsExpire: an entry is kept until every token it refuses has
// expired (NotBefore + MaxTokenAge + Leeway) and then dropped; one that
// arrives already past that is not kept at all.
func TestRevocationsExpire(t *testing.T) {
	t.Parallel()
	clock := testkit.NewClock(t0)
	r, reg := newRevocations(t, RevocationsConfig{MaxTokenAge: 10 * time.Minute, Leeway: 5 * time.Second, Now: clock.Now})
	r.current.Store(true)
	admin := uuid.New()
	r.Revoke(events.SessionsRevoked{AdminID: admin, NotBefore: t0})
	r.Revoke(events.SessionsRevoked{AdminID: admin, SessionID: "s1", NotBefore: t0})
	r.Revoke(events.SessionsRevoked{AdminID: uuid.New(), NotBefore: t0.Add(-11 * time.Minute)})
	if got := r.size(); got != 2 {
		t.Fatalf("%d entries, want 2 (the stale one is not kept)", got)
	}
	last := claimsAt(t0.Add(-1 * time.Second)) // expires at t0 + 9m59s
	last.Subject = admin.String()

	clock.Advance(10*time.Minute + 4*time.Second)
	r.prune(clock.Now())
	if got := r.size(); got != 2 {
		t.Fatalf("%d entries before the last refused token could expire, want 2", got)
	}
	if err := r.Check(&last); !errors.Is(err, ErrRevoked) {
		t.Fatalf("Check of a token that lives within leeway = %v, want ErrRevoked", err)
	}
	clock.Advance(time.Second)
	r.prune(clock.Now())
	if got := r.size(); got != 0 {
		t.Fatalf("%d entries after MaxTokenAge + Leeway, want 0", got)
	}
	if got := metric(t, reg, "authn_revocations_active"); got != 0 {
		t.Fatalf("authn_revocations_active = %v, want 0", got)
	}
}

// metric sums the samples of the gauge or counter name in reg.
func metric(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			sum += m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	return sum
}

// revocationRig is a JetStream server with the ADMIN stream, a signing key
// and a way to publish revocations as the admin service does.
type revocationRig struct {
	t    *testing.T
	srv  *natstest.Server
	js   jetstream.JetStream
	pub  ed25519.PublicKey
	priv ed25519.PrivateKey
}

func newRevocationRig(t *testing.T) *revocationRig {
	t.Helper()
	srv := natstest.Start(t)
	nc, err := nats.Connect(srv.URL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Ensure(context.Background(), js, stream.Admin(1)); err != nil {
		t.Fatal(err)
	}
	pub, priv := newKey(t)
	return &revocationRig{t: t, srv: srv, js: js, pub: pub, priv: priv}
}

// publish sends one admin.sessions.revoked event.
func (g *revocationRig) publish(d events.SessionsRevoked) {
	g.t.Helper()
	if d.RevokedAt.IsZero() {
		d.RevokedAt = time.Now()
	}
	ev, err := events.New("admin", events.TypeSessionsRevoked, d)
	if err != nil {
		g.t.Fatal(err)
	}
	body, err := json.Marshal(ev)
	if err != nil {
		g.t.Fatal(err)
	}
	if _, err := g.js.Publish(context.Background(), ev.Subject(), body, jetstream.WithMsgID(ev.ID.String())); err != nil {
		g.t.Fatal(err)
	}
}

// token signs an access token of admin's session sid issued at iat.
func (g *revocationRig) token(admin uuid.UUID, sid string, iat time.Time) string {
	g.t.Helper()
	c := claimsAt(iat)
	c.Subject, c.SessionID = admin.String(), sid
	return sign(g.t, c, Thumbprint(g.pub), g.priv)
}

// replica is one service replica: its revocations fed from the rig's
// stream and a handler behind Require.
type replica struct {
	rev  *Revocations
	reg  *prometheus.Registry
	h    http.Handler
	stop func()
}

func (g *revocationRig) replica(cfg RevocationsConfig) *replica {
	g.t.Helper()
	rev, reg := newRevocations(g.t, cfg)
	v, err := NewVerifier(Config{Issuer: "acube-admin", Audience: "acube",
		StaticKeys: map[string]ed25519.PublicKey{Thumbprint(g.pub): g.pub}, Revocations: rev})
	if err != nil {
		g.t.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	h := Require(v, log)(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	return &replica{rev: rev, reg: reg, h: h}
}

// run starts the feed; it stops when the test ends or stop is called.
func (p *replica) run(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.rev.Run(ctx, js) }()
	var once bool
	p.stop = func() {
		if once {
			return
		}
		once = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	t.Cleanup(p.stop)
}

// status is what the replica answers a request with token.
func (p *replica) status(token string) int {
	r := httptest.NewRequest(http.MethodGet, "/api/sessions", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	w := httptest.NewRecorder()
	p.h.ServeHTTP(w, r)
	return w.Code
}

// waitStatus polls until token gets want, and returns how long that took.
// The bound only stops a broken test from hanging.
func (p *replica) waitStatus(t *testing.T, token string, want int) time.Duration {
	t.Helper()
	start := time.Now()
	testkit.EventuallyErr(t, fmt.Sprintf("the token to get %d", want), func() error {
		if got := p.status(token); got != want {
			return fmt.Errorf("status %d", got)
		}
		return nil
	}, testkit.Interval(2*time.Millisecond))
	return time.Since(start)
}

func (p *replica) waitCurrent(t *testing.T, want bool) {
	t.Helper()
	testkit.Eventually(t, fmt.Sprintf("revocations current = %v", want), func() bool { return p.rev.Current() == want },
		testkit.Interval(5*time.Millisecond))
}

// TestIntegrationRevocationFeed drives the feed with real JetStream, as the
// admin service publishes: a logout refuses that session's tokens within a
// second and leaves the admin's other session alone; disabling refuses
// every older token and accepts the ones issued after; a restarted replica
// rebuilds both from the stream; until a replica has caught up it answers
// 503, never a 200 it cannot vouch for.
func TestIntegrationRevocationFeed(t *testing.T) {
	t.Parallel()
	g := newRevocationRig(t)
	admin, bystander := uuid.New(), uuid.New()
	issued := time.Now().Add(-time.Minute)
	laptop, phone := g.token(admin, "laptop", issued), g.token(admin, "phone", issued)
	other := g.token(bystander, "desk", issued)

	p := g.replica(RevocationsConfig{Name: "booking", MaxTokenAge: 10 * time.Minute})
	if got := p.status(laptop); got != http.StatusServiceUnavailable {
		t.Fatalf("before the feed caught up: status %d, want 503", got)
	}
	p.run(t, g.js)
	p.waitCurrent(t, true)
	for _, tok := range []string{laptop, phone, other} {
		if got := p.status(tok); got != http.StatusNoContent {
			t.Fatalf("before any revocation: status %d, want 204", got)
		}
	}

	// Logout of the laptop session.
	g.publish(events.SessionsRevoked{AdminID: admin, SessionID: "laptop", NotBefore: time.Now(), Reason: events.RevokeReasonLogout})
	took := p.waitStatus(t, laptop, http.StatusUnauthorized)
	t.Logf("logout applied after %s", took)
	if took > time.Second {
		t.Errorf("logout took %s to apply, want within a second", took)
	}
	if got := p.status(phone); got != http.StatusNoContent {
		t.Errorf("the admin's other session after a logout: status %d, want 204", got)
	}

	// Disabling the admin: every session, every older token.
	disabledAt := time.Now()
	g.publish(events.SessionsRevoked{AdminID: admin, NotBefore: disabledAt, Reason: events.RevokeReasonDisabled})
	took = p.waitStatus(t, phone, http.StatusUnauthorized)
	t.Logf("disable applied after %s", took)
	if took > time.Second {
		t.Errorf("disable took %s to apply, want within a second", took)
	}
	after := g.token(admin, "new", RevokeBefore(disabledAt))
	if got := p.status(after); got != http.StatusNoContent {
		t.Errorf("token issued after NotBefore: status %d, want 204", got)
	}
	if got := p.status(other); got != http.StatusNoContent {
		t.Errorf("another admin's token: status %d, want 204", got)
	}
	if got := metric(t, p.reg, "authn_revocations_applied_total"); got != 2 {
		t.Errorf("authn_revocations_applied_total = %v, want 2", got)
	}

	// A restarted replica rebuilds the set from the stream.
	p.stop()
	q := g.replica(RevocationsConfig{Name: "booking", MaxTokenAge: 10 * time.Minute})
	q.run(t, g.js)
	q.waitCurrent(t, true)
	for name, tc := range map[string]struct {
		token string
		want  int
	}{
		"logged-out session": {laptop, http.StatusUnauthorized},
		"disabled admin":     {phone, http.StatusUnauthorized},
		"issued after":       {after, http.StatusNoContent},
		"other admin":        {other, http.StatusNoContent},
	} {
		if got := q.status(tc.token); got != tc.want {
			t.Errorf("restarted replica, %s: status %d, want %d", name, got, tc.want)
		}
	}
}

// TestIntegrationRevocationFeedStale: cut off from NATS for longer than
// MaxStale a replica refuses admin tokens with 503, since it could be
// missing a revocation; once NATS is back it catches up, applies what was
// published meanwhile, and serves again.
func TestIntegrationRevocationFeedStale(t *testing.T) {
	t.Parallel()
	g := newRevocationRig(t)
	admin := uuid.New()
	tok := g.token(admin, "s1", time.Now().Add(-time.Minute))

	logger, logs := logtest.NewLogger()
	p := g.replica(RevocationsConfig{Name: "exporter", MaxStale: 300 * time.Millisecond, Poll: 20 * time.Millisecond, Log: logger})
	p.run(t, g.js)
	p.waitCurrent(t, true)

	g.srv.Shutdown()
	p.waitStatus(t, tok, http.StatusServiceUnavailable)
	logs.WaitFor(t, "token revocations not current: admin tokens are refused with 503", nil)

	g.srv.Restart()
	p.waitCurrent(t, true)
	if got := p.status(tok); got != http.StatusNoContent {
		t.Fatalf("after NATS returned: status %d, want 204", got)
	}
	g.publish(events.SessionsRevoked{AdminID: admin, SessionID: "s1", NotBefore: time.Now(), Reason: events.RevokeReasonLogout})
	p.waitStatus(t, tok, http.StatusUnauthorized)
}

// TestIntegrationRevocationFeedPermissions runs the feed as a NATS user
// that may only read admin.sessions.revoked on ADMIN by ordered consumers
// of its own (stream.Read, what booking's and the exporter's identities
// need): it catches up, applies a revocation, and the server reports no
// permission violation.
func TestIntegrationRevocationFeedPermissions(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	reader := stream.Access{Service: "reader", Reads: []stream.Read{{Stream: stream.Admin(1).Name, Filter: events.TypeSessionsRevoked}}}
	others := append(stream.Identities(), reader)
	users, seeds := []stream.ServerUser{}, map[string]string{}
	for _, a := range []stream.Access{reader, {Service: stream.Ops, Everything: true}} {
		k, err := stream.NewNKey()
		if err != nil {
			t.Fatal(err)
		}
		seeds[a.Service] = filepath.Join(dir, a.Service+".nk")
		if err := k.WriteSeed(seeds[a.Service]); err != nil {
			t.Fatal(err)
		}
		users = append(users, stream.ServerUser{NKey: k.Public, Permissions: a.Permissions(others)})
	}
	// Not HTML-escaped: the server's parser knows no \u escapes (">").
	var conf strings.Builder
	enc := json.NewEncoder(&conf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(map[string]stream.ServerAccount{stream.AccountName: {JetStream: "enabled", Users: users}}); err != nil {
		t.Fatal(err)
	}
	srv := natstest.Start(t, natstest.WithConfig("accounts: "+conf.String()))
	connect := func(svc string) (jetstream.JetStream, *logtest.Buffer) {
		log, logs := logtest.NewLogger()
		nc, js, err := stream.Connect(srv.URL(), svc, log, stream.NKeyFile(seeds[svc]))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		logs.WaitFor(t, "nats connected", nil)
		return js, logs
	}
	opsJS, _ := connect(stream.Ops)
	if _, err := stream.Ensure(context.Background(), opsJS, stream.Admin(1)); err != nil {
		t.Fatal(err)
	}
	g := &revocationRig{t: t, srv: srv, js: opsJS}
	g.pub, g.priv = newKey(t)
	admin := uuid.New()
	g.publish(events.SessionsRevoked{AdminID: admin, SessionID: "old", NotBefore: time.Now(), Reason: events.RevokeReasonLogout})

	readerJS, readerLogs := connect("reader")
	p := g.replica(RevocationsConfig{Name: "reader", MaxTokenAge: 10 * time.Minute})
	p.run(t, readerJS)
	p.waitCurrent(t, true)
	old := g.token(admin, "old", time.Now().Add(-time.Minute))
	if got := p.status(old); got != http.StatusUnauthorized {
		t.Errorf("session revoked before the start: status %d, want 401", got)
	}
	tok := g.token(admin, "s1", time.Now().Add(-time.Minute))
	g.publish(events.SessionsRevoked{AdminID: admin, SessionID: "s1", NotBefore: time.Now(), Reason: events.RevokeReasonLogout})
	p.waitStatus(t, tok, http.StatusUnauthorized)
	p.stop()
	for _, l := range logtest.Find(readerLogs.Lines(t), "nats error", nil) {
		if strings.Contains(strings.ToLower(l.Str("error")), "permissions violation") {
			t.Errorf("the reader was refused: %s", l.Str("error"))
		}
	}
}

// TestRevocationsStartupGate: a starting replica stays out of its Service
// until its feed is current, or NATS has been unreachable for a third of
// the wait, or the whole wait is over; once passed, the gate stays open
// whatever happens to the feed.
func TestRevocationsStartupGate(t *testing.T) {
	down := errors.New("nats down")
	tests := []struct {
		name      string
		current   bool
		connected error
		waited    time.Duration
		want      error
	}{
		{"feed behind, NATS up", false, nil, 5 * time.Second, ErrRevocationsUnknown},
		{"feed current", true, nil, 0, nil},
		{"still dialling NATS", false, down, time.Second, ErrRevocationsUnknown},
		{"NATS unreachable for a while", false, down, 4 * time.Second, nil},
		{"waited long enough", false, nil, 10 * time.Second, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Unix(1_800_000_000, 0)
			r, _ := newRevocations(t, RevocationsConfig{Now: func() time.Time { return now }})
			r.setCurrent(tt.current, "test")
			gate := r.StartupGate(func(context.Context) error { return tt.connected }, 10*time.Second)
			now = now.Add(tt.waited)
			if err := gate(t.Context()); !errors.Is(err, tt.want) {
				t.Fatalf("gate = %v, want %v", err, tt.want)
			}
			if tt.want == nil {
				r.setCurrent(false, "test")
				if err := gate(t.Context()); err != nil {
					t.Fatalf("gate closed again after it passed: %v", err)
				}
			}
		})
	}
}
