package account_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/postgres"
	"github.com/acube/platform/libs/postgres/pgtest"
	"github.com/acube/platform/libs/testkit"
	"github.com/acube/platform/services/admin/internal/account"
	"github.com/acube/platform/services/admin/internal/migrations"
	"github.com/acube/platform/services/admin/internal/password"
	"github.com/acube/platform/services/admin/internal/store"
	"github.com/acube/platform/services/admin/internal/token"
	"github.com/acube/platform/services/admin/internal/totp"
)

// countingHasher wraps the real hasher to count argon2id runs.
type countingHasher struct {
	*password.Hasher
	verifies, hashes atomic.Int32
}

func (c *countingHasher) Verify(ctx context.Context, enc, pw string) (bool, bool, error) {
	c.verifies.Add(1)
	return c.Hasher.Verify(ctx, enc, pw)
}

func (c *countingHasher) Hash(ctx context.Context, pw string) (string, error) {
	c.hashes.Add(1)
	return c.Hasher.Hash(ctx, pw)
}

// countingStore wraps the real store to count transactions.
type countingStore struct {
	*store.Accounts
	txs atomic.Int32
}

func (c *countingStore) InTx(ctx context.Context, fn func(account.Tx) error) error {
	c.txs.Add(1)
	return c.Accounts.InTx(ctx, fn)
}

type nopRecorder struct{}

func (nopRecorder) Login(string)   {}
func (nopRecorder) Refresh(string) {}

type fixture struct {
	svc    *account.Service
	hasher *countingHasher
	store  *countingStore
	clock  *testkit.Clock
	pool   *pgxpool.Pool
	super  account.Account
	// enrolment is the superadmin's TOTP key and recovery codes.
	enrolment account.Enrolment
}

const (
	superPassword = "correct horse battery staple"
	adaPassword   = "analytical engine"
)

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	pool, err := postgres.Open(ctx, postgres.Config{URL: pgtest.NewMigrated(t, "admin", migrations.Sets()...), Schema: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	h, err := password.NewHasher(password.Params{MemoryKiB: 64, Time: 1, Threads: 1}, 4)
	if err != nil {
		t.Fatal(err)
	}
	keys := token.NewKeys(mustKey(t))
	c := testkit.NewClock(time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC))
	f := &fixture{hasher: &countingHasher{Hasher: h}, store: &countingStore{Accounts: store.NewAccounts(pool)}, clock: c, pool: pool}
	f.svc = account.NewService(f.store, f.hasher, token.NewSigner(keys, "iss", "aud", 10*time.Minute), nopRecorder{},
		account.Config{
			Passwords:  password.Rules{MinLength: 12, Blocklist: password.NewBlocklist([]string{"password1234", "qwertyuiopasdf"})},
			RefreshTTL: 12 * time.Hour, RefreshIdle: 2 * time.Hour, RefreshGrace: 10 * time.Second,
			Throttle: account.Throttle{
				Client:   account.Policy{Free: 5, Base: time.Second, Max: 15 * time.Minute, Reset: 15 * time.Minute},
				Account:  account.Policy{Free: 20, Base: time.Second, Max: 5 * time.Minute, Reset: 15 * time.Minute},
				KnownFor: 30 * 24 * time.Hour,
			},
		}, c.Now)
	f.super, f.enrolment, err = f.svc.Bootstrap(ctx, account.NewAccount{Email: "Root@Example.org", Name: "Root", Password: superPassword})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// superActor is the bootstrapped superadmin as the HTTP layer hands it.
func (f *fixture) superActor() account.Actor {
	return account.Actor{ID: f.super.ID.String(), Email: f.super.Email, Role: account.RoleSuperadmin, ClientIP: "198.51.100.1"}
}

// lastInvitation is the token of the newest invitation in the outbox, as
// the mailer would read it from admin.account.invited.
func (f *fixture) lastInvitation(t *testing.T) string {
	t.Helper()
	var payload []byte
	err := f.pool.QueryRow(context.Background(),
		`SELECT payload FROM outbox WHERE subject = $1 ORDER BY seq DESC LIMIT 1`, events.TypeAccountInvited).Scan(&payload)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := events.Decode(payload)
	if err != nil {
		t.Fatal(err)
	}
	var d events.AccountInvited
	if err := ev.UnmarshalData(&d); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(d.AcceptURL)
	if err != nil || u.Query().Get("token") == "" {
		t.Fatalf("accept URL %q", d.AcceptURL)
	}
	return u.Query().Get("token")
}

// admin invites an admin of role and accepts the invitation with pw.
func (f *fixture) admin(t *testing.T, email, role, pw string) account.Account {
	t.Helper()
	ctx := context.Background()
	sent, err := f.svc.Create(ctx, f.superActor(), account.Invitee{Email: email, Name: "Some One", Role: role})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.AcceptInvitation(ctx, f.lastInvitation(t), pw, "198.51.100.9"); err != nil {
		t.Fatal(err)
	}
	return sent.Account
}

// code is the superadmin's TOTP code at the fixture's clock.
func (f *fixture) code(t *testing.T) string {
	t.Helper()
	c, err := totp.Code(f.enrolment.Secret, totp.Step(f.clock.Now()))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestIntegrationWrongEmailAndWrongPasswordTakeTheSamePath(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	tests := []struct {
		name  string
		email string
		pw    string
	}{
		{name: "wrong password", email: "root@example.org", pw: "not the password!"},
		{name: "unknown email", email: "nobody@example.org", pw: "not the password!"},
		{name: "unknown email, upper case", email: "NOBODY2@example.org", pw: superPassword},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.hasher.verifies.Store(0)
			f.hasher.hashes.Store(0)
			f.store.txs.Store(0)
			_, err := f.svc.Login(ctx, tt.email, tt.pw, "198.51.100.1")
			if !errors.Is(err, account.ErrInvalidCredentials) {
				t.Fatalf("Login = %v, want ErrInvalidCredentials", err)
			}
			// The same work on both paths: one argon2id verification, no
			// hashing, two transactions (throttle, audit of the failure).
			if v, h, x := f.hasher.verifies.Load(), f.hasher.hashes.Load(), f.store.txs.Load(); v != 1 || h != 0 || x != 2 {
				t.Fatalf("verifies, hashes, transactions = %d, %d, %d; want 1, 0, 2", v, h, x)
			}
		})
	}
}

func TestIntegrationLoginRefreshLogout(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	ip := "198.51.100.1"
	f.admin(t, "ada@example.org", account.RoleAdmin, adaPassword)

	s, err := f.svc.Login(ctx, " ADA@example.org ", adaPassword, ip)
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	if s.AccessToken == "" || s.RefreshToken == "" || s.Account.Role != account.RoleAdmin || s.MFA != nil {
		t.Fatalf("session = %+v", s)
	}
	// Rotation: r1 -> r2.
	r1 := s.RefreshToken
	s2, err := f.svc.Refresh(ctx, r1, ip)
	if err != nil {
		t.Fatalf("Refresh r1: %v", err)
	}
	r2 := s2.RefreshToken
	if r2 == r1 {
		t.Fatal("refresh did not rotate")
	}
	// r1 again within the grace period: a retry, a race or a thief. It is
	// refused and changes nothing: r2 goes on working (issue 13, finding 1).
	f.clock.Advance(5 * time.Second)
	if _, err := f.svc.Refresh(ctx, r1, ip); !errors.Is(err, account.ErrRefreshReplayed) {
		t.Fatalf("Refresh r1 within grace = %v, want ErrRefreshReplayed", err)
	}
	s3, err := f.svc.Refresh(ctx, r2, ip)
	if err != nil {
		t.Fatalf("Refresh r2 after a replay of r1: %v", err)
	}
	// r1 after the grace: two parties hold the family; it ends.
	f.clock.Advance(6 * time.Second)
	if _, err := f.svc.Refresh(ctx, r1, ip); !errors.Is(err, account.ErrRefreshReused) {
		t.Fatalf("Refresh r1 after grace = %v, want ErrRefreshReused", err)
	}
	if _, err := f.svc.Refresh(ctx, s3.RefreshToken, ip); !errors.Is(err, account.ErrInvalidRefresh) {
		t.Fatalf("Refresh r3 after family revoked = %v, want ErrInvalidRefresh", err)
	}

	// A new login: reuse after the grace period revokes the family.
	s, err = f.svc.Login(ctx, "ada@example.org", adaPassword, ip)
	if err != nil {
		t.Fatal(err)
	}
	a1 := s.RefreshToken
	n, err := f.svc.Refresh(ctx, a1, ip)
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(11 * time.Second)
	if _, err := f.svc.Refresh(ctx, a1, ip); !errors.Is(err, account.ErrRefreshReused) {
		t.Fatalf("reuse after grace = %v, want ErrRefreshReused", err)
	}
	if _, err := f.svc.Refresh(ctx, n.RefreshToken, ip); !errors.Is(err, account.ErrInvalidRefresh) {
		t.Fatalf("successor after reuse = %v, want ErrInvalidRefresh", err)
	}

	// Idle and absolute expiry: each use within the idle limit extends
	// the token, never past the login's absolute limit.
	loginAt := f.clock.Now()
	s, err = f.svc.Login(ctx, "ada@example.org", adaPassword, ip)
	if err != nil {
		t.Fatal(err)
	}
	tok := s.RefreshToken
	for range 6 { // six hops of 1h55m: 11h30m after login
		f.clock.Advance(115 * time.Minute)
		n, err := f.svc.Refresh(ctx, tok, ip)
		if err != nil {
			t.Fatalf("refresh within idle: %v", err)
		}
		tok = n.RefreshToken
		if want := loginAt.Add(12 * time.Hour); n.RefreshExpiresAt.After(want) {
			t.Fatalf("refresh expiry %s past the absolute limit %s", n.RefreshExpiresAt, want)
		}
	}
	n, err = f.svc.Refresh(ctx, tok, ip)
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(31 * time.Minute) // 12h01m
	if _, err := f.svc.Refresh(ctx, n.RefreshToken, ip); !errors.Is(err, account.ErrInvalidRefresh) {
		t.Fatalf("refresh past the absolute expiry = %v, want ErrInvalidRefresh", err)
	}
	s, err = f.svc.Login(ctx, "ada@example.org", adaPassword, ip)
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(2*time.Hour + time.Second)
	if _, err := f.svc.Refresh(ctx, s.RefreshToken, ip); !errors.Is(err, account.ErrInvalidRefresh) {
		t.Fatalf("refresh past idle expiry = %v, want ErrInvalidRefresh", err)
	}

	// Logout revokes the family.
	s, err = f.svc.Login(ctx, "ada@example.org", adaPassword, ip)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Logout(ctx, s.RefreshToken, ip); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Refresh(ctx, s.RefreshToken, ip); !errors.Is(err, account.ErrInvalidRefresh) {
		t.Fatalf("refresh after logout = %v, want ErrInvalidRefresh", err)
	}
	if err := f.svc.Logout(ctx, "unknown", ip); err != nil {
		t.Fatalf("logout of an unknown token = %v, want nil", err)
	}
}

func mustKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
