package account

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/services/admin/internal/audit"
	"github.com/acube/platform/services/admin/internal/token"
)

// Store keeps accounts, throttle counters and refresh tokens.
type Store interface {
	// InTx runs fn in one transaction, committed when fn returns nil.
	InTx(ctx context.Context, fn func(Tx) error) error
	// List returns every account, oldest first.
	List(ctx context.Context) ([]Account, error)
	// AccountByEmail returns ErrNotFound for an unknown email.
	AccountByEmail(ctx context.Context, email string) (Account, error)
}

// Tx is what the use cases do inside one transaction.
type Tx interface {
	CountAccounts(ctx context.Context) (int, error)
	// AccountByID locks the account row; ErrNotFound when missing.
	AccountByID(ctx context.Context, id uuid.UUID) (Account, error)
	// InsertAccount returns ErrEmailTaken for a duplicate email.
	InsertAccount(ctx context.Context, a Account) error
	SetPasswordHash(ctx context.Context, id uuid.UUID, hash string) error
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
	RefreshByID(ctx context.Context, id uuid.UUID) (Refresh, error)
	MarkRefreshUsed(ctx context.Context, id uuid.UUID, at time.Time, replacedBy uuid.UUID) error
	RevokeRefresh(ctx context.Context, id uuid.UUID, at time.Time, reason string) error
	RevokeFamily(ctx context.Context, family uuid.UUID, at time.Time, reason string) error
	RevokeAccountRefresh(ctx context.Context, accountID uuid.UUID, at time.Time, reason string) error

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
	OutcomeSuccess   = "success"
	OutcomeInvalid   = "invalid"
	OutcomeThrottled = "throttled"
	OutcomeReused    = "reused"
)

// Config holds the account rules.
type Config struct {
	MinPassword  int
	RefreshTTL   time.Duration // absolute, per login
	RefreshIdle  time.Duration
	RefreshGrace time.Duration
	Throttle     Throttle
	// LogKey keys the account_ref of "Login failed" log lines (a hash of
	// the email). Replicas that share a key give one email the same
	// reference; empty means a random key per process, so references
	// line up only within one process's log.
	LogKey []byte
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
	key := cfg.LogKey
	if len(key) == 0 {
		key = make([]byte, 32)
		rand.Read(key) // never fails (crypto/rand)
	}
	return &Service{store: store, hasher: hasher, signer: signer, rec: rec, cfg: cfg, now: now, logKey: key}
}

// Create adds an admin and announces it (admin.account.created, from
// which the mailer sends the welcome email). Only a superadmin may.
func (s *Service) Create(ctx context.Context, actor Actor, in NewAccount) (Account, error) {
	if actor.Role != RoleSuperadmin {
		return Account{}, ErrForbidden
	}
	return s.create(ctx, actor, in, "create")
}

// Bootstrap creates the first superadmin; it refuses once any account
// exists, so it can never be used to add a second way in.
func (s *Service) Bootstrap(ctx context.Context, in NewAccount) (Account, error) {
	in.Role = RoleSuperadmin
	return s.create(ctx, Actor{Email: "system:bootstrap", ClientIP: "local"}, in, "bootstrap")
}

func (s *Service) create(ctx context.Context, actor Actor, in NewAccount, action string) (Account, error) {
	if err := in.validate(s.cfg.MinPassword); err != nil {
		return Account{}, err
	}
	hash, err := s.hasher.Hash(ctx, in.Password)
	if err != nil {
		return Account{}, fmt.Errorf("hash password: %w", err)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Account{}, fmt.Errorf("new account id: %w", err)
	}
	now := s.now().UTC()
	a := Account{ID: id, Email: in.Email, Name: in.Name, Role: in.Role, PasswordHash: hash, CreatedAt: now, CreatedBy: actor.ID}
	err = s.store.InTx(ctx, func(tx Tx) error {
		if action == "bootstrap" {
			n, err := tx.CountAccounts(ctx)
			if err != nil {
				return err
			}
			if n > 0 {
				return ErrBootstrapped
			}
		}
		if err := tx.InsertAccount(ctx, a); err != nil {
			return err
		}
		created, err := events.New(Source, TypeAccountCreated, events.AccountCreated{AccountID: a.ID, Email: a.Email, Name: a.Name,
			Role: a.Role, CreatedBy: events.AdminRef{ID: actor.ID, Email: actor.Email}, CreatedAt: now})
		if err != nil {
			return err
		}
		if err := tx.Emit(ctx, created); err != nil {
			return err
		}
		return emitAudit(ctx, tx, actor, action, a.ID.String(), now,
			map[string]any{"email": a.Email, "name": a.Name, "role": a.Role})
	})
	if err != nil {
		return Account{}, fmt.Errorf("create admin %s: %w", in.Email, err)
	}
	return a, nil
}

// List returns every admin. Only a superadmin may.
func (s *Service) List(ctx context.Context, actor Actor) ([]Account, error) {
	if actor.Role != RoleSuperadmin {
		return nil, ErrForbidden
	}
	list, err := s.store.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list admins: %w", err)
	}
	return list, nil
}

// Disable stops an admin from logging in and revokes its refresh tokens;
// access tokens already issued run out within their short lifetime.
// Disabling an already disabled account changes nothing.
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
		if err := tx.RevokeAccountRefresh(ctx, id, now, "account_disabled"); err != nil {
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
