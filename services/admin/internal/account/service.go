package account

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/keyset"
	"github.com/acube/platform/services/admin/internal/audit"
	"github.com/acube/platform/services/admin/internal/password"
	"github.com/acube/platform/services/admin/internal/token"
)

// Store keeps accounts, throttle counters, sessions and their tokens.
type Store interface {
	// InTx runs fn in one transaction, committed when fn returns nil.
	InTx(ctx context.Context, fn func(Tx) error) error
	// List returns up to limit accounts after the cursor (from the first
	// when nil), oldest first by (created_at, id).
	List(ctx context.Context, after *keyset.Cursor, limit int) ([]Account, error)
	// AccountByEmail returns ErrNotFound for an unknown email.
	AccountByEmail(ctx context.Context, email string) (Account, error)
	// SessionState returns a login session and its account, in one read,
	// or ErrNotFound.
	SessionState(ctx context.Context, id uuid.UUID) (LoginSession, Account, error)
}

// Tx is what the use cases do inside one transaction.
type Tx interface {
	CountAccounts(ctx context.Context) (int, error)
	// AccountByID locks the account row; ErrNotFound when missing.
	AccountByID(ctx context.Context, id uuid.UUID) (Account, error)
	// InsertAccount returns ErrEmailTaken for a duplicate email.
	InsertAccount(ctx context.Context, a Account) error
	// SetPasswordHash replaces the hash alone (a rehash at login).
	SetPasswordHash(ctx context.Context, id uuid.UUID, hash string) error
	// SetPassword stores a password the admin chose at: the hash, when it
	// changed, and the activation on the first one.
	SetPassword(ctx context.Context, id uuid.UUID, hash string, at time.Time) error
	// SetTOTP stores a's TOTP fields (secret, pending, confirmation, last step).
	SetTOTP(ctx context.Context, a Account) error
	Disable(ctx context.Context, id uuid.UUID, at time.Time) error

	// Throttles locks and returns the states of keys, zero for new ones.
	Throttles(ctx context.Context, keys ...string) ([]ThrottleState, error)
	SaveThrottles(ctx context.Context, states ...ThrottleState) error
	ResetThrottles(ctx context.Context, keys ...string) error
	// KnownClient reports whether ip logged in to email's account since.
	KnownClient(ctx context.Context, email, ip string, since time.Time) (bool, error)
	RememberClient(ctx context.Context, accountID uuid.UUID, ip string, at time.Time) error

	InsertRefresh(ctx context.Context, r Refresh) error
	// RefreshByHash locks the token row; ErrNotFound when missing.
	RefreshByHash(ctx context.Context, hash []byte) (Refresh, error)
	MarkRefreshUsed(ctx context.Context, id uuid.UUID, at time.Time, replacedBy uuid.UUID) error
	RevokeFamily(ctx context.Context, family uuid.UUID, at time.Time, reason string) error
	RevokeAccountRefresh(ctx context.Context, accountID uuid.UUID, at time.Time, reason string) error

	InsertSession(ctx context.Context, s LoginSession) error
	RevokeSession(ctx context.Context, id uuid.UUID, at time.Time, reason string) error
	// RevokeAccountSessions ends every live session of the account except
	// one (uuid.Nil: none) and returns the ids it ended.
	RevokeAccountSessions(ctx context.Context, accountID, except uuid.UUID, at time.Time, reason string) ([]uuid.UUID, error)

	InsertInvitation(ctx context.Context, inv Invitation) error
	// InvitationByHash locks the invitation; ErrNotFound when missing.
	InvitationByHash(ctx context.Context, hash []byte) (Invitation, error)
	MarkInvitationUsed(ctx context.Context, id uuid.UUID, at time.Time) error
	// RevokeInvitations ends every open invitation of the account.
	RevokeInvitations(ctx context.Context, accountID uuid.UUID, at time.Time) error

	InsertChallenge(ctx context.Context, c Challenge) error
	// ChallengeByHash locks the challenge; ErrNotFound when missing.
	ChallengeByHash(ctx context.Context, hash []byte) (Challenge, error)
	MarkChallengeUsed(ctx context.Context, id uuid.UUID, at time.Time) error

	// ReplaceRecoveryCodes drops the account's recovery codes and stores
	// these hashes instead (none: just drops them).
	ReplaceRecoveryCodes(ctx context.Context, accountID uuid.UUID, hashes [][]byte, at time.Time) error
	// UseRecoveryCode spends an unused code; false when there is none.
	UseRecoveryCode(ctx context.Context, accountID uuid.UUID, hash []byte, at time.Time) (bool, error)

	// Emit writes ev to the outbox.
	Emit(ctx context.Context, ev events.Event) error
}

// Hasher hashes and verifies passwords (password.Hasher).
type Hasher interface {
	Hash(ctx context.Context, pw string) (string, error)
	Verify(ctx context.Context, encoded, pw string) (ok, rehash bool, err error)
	Dummy() string
}

// Signer mints access tokens (token.Signer).
type Signer interface {
	Sign(s token.Subject, now time.Time) (string, time.Time, error)
}

// Recorder counts outcomes for metrics.
type Recorder interface {
	Login(outcome string)
	Refresh(outcome string)
}

// Outcomes of a login or refresh, for metrics and audit.
const (
	OutcomeSuccess     = "success"
	OutcomeInvalid     = "invalid"
	OutcomeThrottled   = "throttled"
	OutcomeReused      = "reused"
	OutcomeReplayed    = "replayed"
	OutcomeMFARequired = "mfa_required"
)

// Config holds the account rules.
type Config struct {
	// Passwords are the rules a chosen password must satisfy.
	Passwords    password.Rules
	RefreshTTL   time.Duration // absolute, per login
	RefreshIdle  time.Duration
	RefreshGrace time.Duration
	Throttle     Throttle
	// LogKey keys the account_ref of "Login failed" log lines (a hash of
	// the email). Replicas that share a key give one email the same
	// reference; empty means a random key per process, so references
	// line up only within one process's log.
	LogKey []byte
	// InvitationTTL is how long an invitation link works [24h].
	InvitationTTL time.Duration
	// AcceptURL is where invitation links lead: a path the mailer joins
	// to PUBLIC_BASE_URL, or an organisation's own absolute URL, with
	// {token} where the invitation token goes
	// [/admin/invitation?token={token}].
	AcceptURL string
	// MFAIssuer names the service in authenticator apps [A-Cube Admin].
	MFAIssuer string
	// MFARequiredForAdmins makes admins, not only superadmins, enrol TOTP.
	MFARequiredForAdmins bool
	// MFAChallengeTTL is how long the second login step may wait [5m].
	MFAChallengeTTL time.Duration
	// RecoveryCodes is how many recovery codes an enrolment gives [10].
	RecoveryCodes int
}

func (c *Config) setDefaults() {
	if c.InvitationTTL <= 0 {
		c.InvitationTTL = 24 * time.Hour
	}
	if c.AcceptURL == "" {
		c.AcceptURL = "/admin/invitation?token=" + TokenPlaceholder
	}
	if c.MFAIssuer == "" {
		c.MFAIssuer = "A-Cube Admin"
	}
	if c.MFAChallengeTTL <= 0 {
		c.MFAChallengeTTL = 5 * time.Minute
	}
	if c.RecoveryCodes <= 0 {
		c.RecoveryCodes = 10
	}
}

// Service carries out the account use cases.
type Service struct {
	store  Store
	hasher Hasher
	signer Signer
	rec    Recorder
	cfg    Config
	now    func() time.Time
	logKey []byte
}

// NewService builds the account service; now is the clock (time.Now).
func NewService(store Store, hasher Hasher, signer Signer, rec Recorder, cfg Config, now func() time.Time) *Service {
	cfg.setDefaults()
	key := cfg.LogKey
	if len(key) == 0 {
		key = make([]byte, 32)
		rand.Read(key) // never fails (crypto/rand)
	}
	return &Service{store: store, hasher: hasher, signer: signer, rec: rec, cfg: cfg, now: now, logKey: key}
}

// mfaRequired says whether a must pass a second factor to log in.
func (s *Service) mfaRequired(a Account) bool {
	return a.MFAEnabled() || a.Role == RoleSuperadmin || s.cfg.MFARequiredForAdmins
}

// List returns a page of at most limit admins after the cursor (from the
// first when nil), oldest first. Only a superadmin may.
func (s *Service) List(ctx context.Context, actor Actor, after *keyset.Cursor, limit int) (Page, error) {
	if actor.Role != RoleSuperadmin {
		return Page{}, ErrForbidden
	}
	list, err := s.store.List(ctx, after, limit+1)
	if err != nil {
		return Page{}, fmt.Errorf("list admins: %w", err)
	}
	p := Page{Items: list}
	if len(list) > limit {
		p.Items = list[:limit]
		last := p.Items[limit-1]
		p.Next = &keyset.Cursor{At: last.CreatedAt, ID: last.ID}
	}
	return p, nil
}

// Disable stops an admin from logging in and ends every session of it at
// once: its refresh tokens, its sessions (which this service checks on
// every request) and, through admin.sessions.revoked, its access tokens
// at every other service. Disabling a disabled account changes nothing.
func (s *Service) Disable(ctx context.Context, actor Actor, id uuid.UUID) (Account, error) {
	if actor.Role != RoleSuperadmin {
		return Account{}, ErrForbidden
	}
	if actor.ID == id.String() {
		return Account{}, ErrSelf
	}
	now := s.now().UTC()
	var a Account
	err := s.store.InTx(ctx, func(tx Tx) error {
		var err error
		if a, err = tx.AccountByID(ctx, id); err != nil {
			return err
		}
		if a.Disabled() {
			return nil
		}
		if err := tx.Disable(ctx, id, now); err != nil {
			return err
		}
		if err := tx.RevokeAccountRefresh(ctx, id, now, events.RevokeReasonDisabled); err != nil {
			return err
		}
		if _, err := tx.RevokeAccountSessions(ctx, id, uuid.Nil, now, events.RevokeReasonDisabled); err != nil {
			return err
		}
		if err := tx.RevokeInvitations(ctx, id, now); err != nil {
			return err
		}
		if err := emitRevoked(ctx, tx, id, "", events.RevokeReasonDisabled, now); err != nil {
			return err
		}
		a.DisabledAt = &now
		ev, err := events.New(Source, TypeAccountDisabled, DisabledEvent{AccountID: id, Email: a.Email,
			DisabledBy: events.AdminRef{ID: actor.ID, Email: actor.Email}, DisabledAt: now})
		if err != nil {
			return err
		}
		if err := tx.Emit(ctx, ev); err != nil {
			return err
		}
		return emitAudit(ctx, tx, actor, "disable", id.String(), now,
			map[string]any{"disabled": map[string]bool{"from": false, "to": true}})
	})
	if err != nil {
		return Account{}, fmt.Errorf("disable admin %s: %w", id, err)
	}
	return a, nil
}

// emitRevoked announces within tx that access tokens of admin issued
// before now are void: those of one session, or of all ("").
func emitRevoked(ctx context.Context, tx Tx, admin uuid.UUID, session, reason string, now time.Time) error {
	ev, err := events.New(Source, events.TypeSessionsRevoked, events.SessionsRevoked{AdminID: admin,
		SessionID: session, NotBefore: now, Reason: reason, RevokedAt: now})
	if err != nil {
		return err
	}
	return tx.Emit(ctx, ev)
}

// emitAudit writes one audit event about an admin account within tx.
func emitAudit(ctx context.Context, tx Tx, actor Actor, action, entityID string, at time.Time, changes any) error {
	rec := events.AuditRecord{ActorID: actor.ID, ActorEmail: actor.Email, Action: action, Entity: Entity,
		EntityID: entityID, ClientIP: actor.ClientIP, OccurredAt: at}
	if changes != nil {
		rec.Changes = audit.Changes(changes)
	}
	ev, err := rec.Event(Source)
	if err != nil {
		return err
	}
	return tx.Emit(ctx, ev)
}
