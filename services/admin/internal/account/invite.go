package account

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/services/admin/internal/token"
)

// TokenPlaceholder marks where the invitation token goes in
// Config.AcceptURL.
const TokenPlaceholder = "{token}"

// Invitation is a single-use link that lets an invited admin choose a
// password. Only the token's hash is stored.
type Invitation struct {
	ID        uuid.UUID
	AccountID uuid.UUID
	Hash      []byte
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
	RevokedAt *time.Time
	CreatedBy string
}

// Sent is what the inviter learns of an invitation: never its token,
// which only the invitee's email carries.
type Sent struct {
	Account   Account
	ExpiresAt time.Time
}

// Create invites an admin: the account exists at once, without a
// password, and admin.account.invited makes the mailer send the invitee a
// single-use link, valid for Config.InvitationTTL, to choose one. Nobody
// else ever knows it. Only a superadmin may.
func (s *Service) Create(ctx context.Context, actor Actor, in Invitee) (Sent, error) {
	if actor.Role != RoleSuperadmin {
		return Sent{}, ErrForbidden
	}
	if err := in.validate(); err != nil {
		return Sent{}, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Sent{}, fmt.Errorf("new account id: %w", err)
	}
	now := s.now().UTC()
	a := Account{ID: id, Email: in.Email, Name: in.Name, Role: in.Role, CreatedAt: now, CreatedBy: actor.ID}
	var exp time.Time
	err = s.store.InTx(ctx, func(tx Tx) error {
		if err := tx.InsertAccount(ctx, a); err != nil {
			return err
		}
		var err error
		if exp, err = s.invite(ctx, tx, actor, a, now); err != nil {
			return err
		}
		return emitAudit(ctx, tx, actor, "create", a.ID.String(), now,
			map[string]any{"email": a.Email, "name": a.Name, "role": a.Role, "invited": true})
	})
	if err != nil {
		return Sent{}, fmt.Errorf("invite admin %s: %w", in.Email, err)
	}
	return Sent{Account: a, ExpiresAt: exp}, nil
}

// Reinvite replaces an invited admin's invitation with a new one (the old
// link stops working) and sends it. Only a superadmin may, and only while
// the admin has not chosen a password.
func (s *Service) Reinvite(ctx context.Context, actor Actor, id uuid.UUID) (Sent, error) {
	if actor.Role != RoleSuperadmin {
		return Sent{}, ErrForbidden
	}
	now := s.now().UTC()
	var (
		a   Account
		exp time.Time
	)
	err := s.store.InTx(ctx, func(tx Tx) error {
		var err error
		if a, err = tx.AccountByID(ctx, id); err != nil {
			return err
		}
		switch {
		case a.Disabled():
			return ErrAccountDisabled
		case a.ActivatedAt != nil:
			return ErrNotInvited
		}
		if err := tx.RevokeInvitations(ctx, id, now); err != nil {
			return err
		}
		if exp, err = s.invite(ctx, tx, actor, a, now); err != nil {
			return err
		}
		return emitAudit(ctx, tx, actor, "reinvite", a.ID.String(), now, nil)
	})
	if err != nil {
		return Sent{}, fmt.Errorf("reinvite admin %s: %w", id, err)
	}
	return Sent{Account: a, ExpiresAt: exp}, nil
}

// invite stores a new invitation of a within tx and announces it.
func (s *Service) invite(ctx context.Context, tx Tx, actor Actor, a Account, now time.Time) (time.Time, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return time.Time{}, fmt.Errorf("new invitation id: %w", err)
	}
	plain, hash := token.NewSecret()
	inv := Invitation{ID: id, AccountID: a.ID, Hash: hash, CreatedAt: now, ExpiresAt: now.Add(s.cfg.InvitationTTL),
		CreatedBy: actor.ID}
	if err := tx.InsertInvitation(ctx, inv); err != nil {
		return time.Time{}, err
	}
	ev, err := events.New(Source, events.TypeAccountInvited, events.AccountInvited{AccountID: a.ID, InvitationID: id,
		Email: a.Email, Name: a.Name, Role: a.Role, InvitedBy: events.AdminRef{ID: actor.ID, Email: actor.Email},
		AcceptURL: strings.Replace(s.cfg.AcceptURL, TokenPlaceholder, url.QueryEscape(plain), 1), ExpiresAt: inv.ExpiresAt, InvitedAt: now})
	if err != nil {
		return time.Time{}, err
	}
	return inv.ExpiresAt, tx.Emit(ctx, ev)
}

// CheckInvitation says whether the invitation token plain can still set
// a password, without spending it: nil, or ErrInvitationInvalid,
// ErrInvitationUsed or ErrInvitationExpired as AcceptInvitation would
// answer. The invitation page uses it to tell a dead link apart before
// anyone types a password.
func (s *Service) CheckInvitation(ctx context.Context, plain string) error {
	if plain == "" || len(plain) > 256 {
		return ErrInvitationInvalid
	}
	hash := token.HashSecret(plain)
	now := s.now().UTC()
	err := s.store.InTx(ctx, func(tx Tx) error {
		_, _, err := invitationState(ctx, tx, hash, now)
		return err
	})
	if err != nil {
		return fmt.Errorf("check invitation: %w", err)
	}
	return nil
}

// invitationState finds the invitation whose token hashes to hash and its
// account, and says whether it can be accepted at now.
func invitationState(ctx context.Context, tx Tx, hash []byte, now time.Time) (Invitation, Account, error) {
	inv, err := tx.InvitationByHash(ctx, hash)
	if errors.Is(err, ErrNotFound) {
		return Invitation{}, Account{}, ErrInvitationInvalid
	}
	if err != nil {
		return Invitation{}, Account{}, err
	}
	a, err := tx.AccountByID(ctx, inv.AccountID)
	if err != nil {
		return Invitation{}, Account{}, err
	}
	switch {
	case inv.UsedAt != nil, a.ActivatedAt != nil:
		return Invitation{}, Account{}, ErrInvitationUsed
	case inv.RevokedAt != nil, a.Disabled(), !now.Before(inv.ExpiresAt):
		return Invitation{}, Account{}, ErrInvitationExpired
	}
	return inv, a, nil
}

// AcceptInvitation sets the password of the admin invited with plain, from
// clientIP, and spends the invitation. An unknown token is
// ErrInvitationInvalid, a used one ErrInvitationUsed, an expired or
// replaced one ErrInvitationExpired; a password that breaks the rules is
// a *ValidationError naming "password". The admin then logs in (and, if
// the role needs it, enrols TOTP on the way).
func (s *Service) AcceptInvitation(ctx context.Context, plain, pw, clientIP string) error {
	f := map[string]string{}
	if plain == "" || len(plain) > 256 {
		f["token"] = "is required"
	}
	if pw == "" {
		f["password"] = "is required"
	}
	if len(f) > 0 {
		return &ValidationError{Fields: f}
	}
	hash := token.HashSecret(plain)
	now := s.now().UTC()
	var a Account
	check := func(tx Tx) (inv Invitation, err error) {
		inv, a, err = invitationState(ctx, tx, hash, now)
		return inv, err
	}
	// A first look, so a bad link is told apart before any hashing; the
	// transaction that sets the password checks again under lock.
	err := s.store.InTx(ctx, func(tx Tx) error { _, err := check(tx); return err })
	if err != nil {
		return fmt.Errorf("accept invitation: %w", err)
	}
	if msg := s.cfg.Passwords.Check(pw, a.Email, a.Name); msg != "" {
		return &ValidationError{Fields: map[string]string{"password": msg}}
	}
	encoded, err := s.hasher.Hash(ctx, pw)
	if err != nil {
		return fmt.Errorf("accept invitation: hash password: %w", err)
	}
	err = s.store.InTx(ctx, func(tx Tx) error {
		inv, err := check(tx)
		if err != nil {
			return err
		}
		if err := tx.SetPassword(ctx, a.ID, encoded, now); err != nil {
			return err
		}
		if err := tx.MarkInvitationUsed(ctx, inv.ID, now); err != nil {
			return err
		}
		actor := Actor{ID: a.ID.String(), Email: a.Email, ClientIP: clientIP}
		return emitAudit(ctx, tx, actor, "invitation_accepted", a.ID.String(), now, nil)
	})
	if err != nil {
		return fmt.Errorf("accept invitation: %w", err)
	}
	return nil
}

// Bootstrap creates the first superadmin with the password it is given
// and enrols its TOTP factor at once (a superadmin always needs one): the
// caller shows the key and the recovery codes to the operator. It refuses
// once any account exists, so it can never be used to add a second way in.
func (s *Service) Bootstrap(ctx context.Context, in NewAccount) (Account, Enrolment, error) {
	if err := in.validate(s.cfg.Passwords); err != nil {
		return Account{}, Enrolment{}, err
	}
	hash, err := s.hasher.Hash(ctx, in.Password)
	if err != nil {
		return Account{}, Enrolment{}, fmt.Errorf("hash password: %w", err)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Account{}, Enrolment{}, fmt.Errorf("new account id: %w", err)
	}
	key, err := s.newKey(in.Email)
	if err != nil {
		return Account{}, Enrolment{}, err
	}
	codes, hashes := newRecoveryCodes(s.cfg.RecoveryCodes)
	now := s.now().UTC()
	actor := Actor{Email: "system:bootstrap", ClientIP: "local"}
	a := Account{ID: id, Email: in.Email, Name: in.Name, Role: RoleSuperadmin, PasswordHash: hash, CreatedAt: now,
		ActivatedAt: &now, PasswordChangedAt: &now, TOTPSecret: key.Secret, TOTPConfirmedAt: &now}
	err = s.store.InTx(ctx, func(tx Tx) error {
		n, err := tx.CountAccounts(ctx)
		if err != nil {
			return err
		}
		if n > 0 {
			return ErrBootstrapped
		}
		if err := tx.InsertAccount(ctx, a); err != nil {
			return err
		}
		if err := tx.ReplaceRecoveryCodes(ctx, a.ID, hashes, now); err != nil {
			return err
		}
		created, err := events.New(Source, TypeAccountCreated, events.AccountCreated{AccountID: a.ID, Email: a.Email,
			Name: a.Name, Role: a.Role, CreatedBy: events.AdminRef{Email: actor.Email}, CreatedAt: now})
		if err != nil {
			return err
		}
		if err := tx.Emit(ctx, created); err != nil {
			return err
		}
		if err := emitAudit(ctx, tx, actor, "bootstrap", a.ID.String(), now,
			map[string]any{"email": a.Email, "name": a.Name, "role": a.Role}); err != nil {
			return err
		}
		return emitAudit(ctx, tx, actor, "totp_enrolled", a.ID.String(), now, nil)
	})
	if err != nil {
		return Account{}, Enrolment{}, fmt.Errorf("bootstrap admin %s: %w", in.Email, err)
	}
	return a, Enrolment{Secret: key.Secret, URI: key.URI, RecoveryCodes: codes}, nil
}
