// Package account holds the admin accounts and their login: inviting,
// listing and disabling admins, password login with per-account
// throttling, the TOTP second factor, rotating refresh tokens, login
// sessions that can be revoked at once, password changes and logout.
// Every action is audited through an audit event written in the same
// transaction as its change.
package account

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/acube/platform/libs/authn"
	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/services/admin/internal/password"
)

// Source names this service in event envelopes.
const Source = "admin"

// Entity is the audit entity of admin accounts.
const Entity = "admin_account"

// Event types (and subjects) about accounts.
const (
	TypeAccountCreated  = events.TypeAccountCreated
	TypeAccountDisabled = "admin.account.disabled"
)

// Domain errors, mapped to statuses by the HTTP layer.
var (
	ErrNotFound           = errors.New("admin account not found")
	ErrEmailTaken         = errors.New("an admin with this email exists")
	ErrForbidden          = errors.New("your role may not do this")
	ErrSelf               = errors.New("you cannot disable your own account")
	ErrInvalidCredentials = errors.New("invalid email or password")
	ErrInvalidRefresh     = errors.New("invalid or expired refresh token")
	ErrRefreshReused      = errors.New("refresh token reused; every session of this login is revoked")
	ErrBootstrapped       = errors.New("admin accounts exist already; create more through the API")
	// ErrRefreshReplayed is a refresh token used again within the grace
	// period after it was rotated: refused, and nothing else changes.
	ErrRefreshReplayed = errors.New("refresh token already used; use the one it was exchanged for")
	// ErrSessionRevoked is an access token whose login session ended
	// (logout, disabled account, password change) or whose role changed.
	ErrSessionRevoked = errors.New("the session of this access token has ended")
	// ErrInvitationInvalid is an invitation token that names no invitation.
	ErrInvitationInvalid = errors.New("invalid invitation token")
	// ErrInvitationUsed is an invitation accepted already.
	ErrInvitationUsed = errors.New("this invitation has been used already")
	// ErrInvitationExpired is an invitation past its 24 hours, or replaced
	// by a newer one, or of an account that was disabled.
	ErrInvitationExpired = errors.New("this invitation has expired; ask a superadmin for a new one")
	// ErrAccountDisabled is an action on a disabled account that needs a
	// live one.
	ErrAccountDisabled = errors.New("this admin is disabled")
	// ErrNotInvited is an account that has set its password already.
	ErrNotInvited = errors.New("this admin has accepted the invitation already")
	// ErrInvalidMFAToken is an MFA token that is unknown, used or expired.
	ErrInvalidMFAToken = errors.New("invalid or expired MFA token; log in again")
	// ErrInvalidCode is a wrong, old or replayed TOTP or recovery code.
	ErrInvalidCode = errors.New("invalid code")
	// ErrTOTPEnrolled refuses a new enrolment while one is confirmed.
	ErrTOTPEnrolled = errors.New("TOTP is enrolled already; a superadmin can reset it")
	// ErrTOTPNotStarted is a confirmation without a started enrolment.
	ErrTOTPNotStarted = errors.New("start the TOTP enrolment first")
)

// ValidationError lists what is wrong with input, by field.
type ValidationError struct{ Fields map[string]string }

// Error lists the offending fields.
func (e *ValidationError) Error() string { return fmt.Sprintf("invalid input: %v", e.Fields) }

// ThrottledError refuses a login attempt until RetryAfter has passed.
type ThrottledError struct{ RetryAfter time.Duration }

// Error says how long to wait.
func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many failed logins; retry in %s", e.RetryAfter.Round(time.Second))
}

// Account is one admin.
type Account struct {
	ID    uuid.UUID
	Email string
	Name  string
	Role  string
	// PasswordHash is "" until an invited admin sets a password.
	PasswordHash string
	CreatedAt    time.Time
	CreatedBy    string
	DisabledAt   *time.Time
	// ActivatedAt is when the admin first had a password: nil while an
	// invitation is pending.
	ActivatedAt       *time.Time
	PasswordChangedAt *time.Time
	// TOTPSecret is the confirmed second factor (base32), "" when none;
	// TOTPPending a secret being enrolled; TOTPLastStep the time step of
	// the last accepted code, so no code is accepted twice.
	TOTPSecret      string
	TOTPPending     string
	TOTPConfirmedAt *time.Time
	TOTPLastStep    int64
}

// Account states, as the API shows them.
const (
	StatusInvited  = "invited"
	StatusActive   = "active"
	StatusDisabled = "disabled"
)

// Disabled reports whether the account may no longer log in.
func (a Account) Disabled() bool { return a.DisabledAt != nil }

// Status is invited, active or disabled.
func (a Account) Status() string {
	switch {
	case a.Disabled():
		return StatusDisabled
	case a.ActivatedAt == nil:
		return StatusInvited
	default:
		return StatusActive
	}
}

// MFAEnabled reports whether the admin has a confirmed TOTP factor.
func (a Account) MFAEnabled() bool { return a.TOTPSecret != "" && a.TOTPConfirmedAt != nil }

// Actor is who does something, as the HTTP layer learned it.
type Actor struct {
	ID       string
	Email    string
	Name     string
	Role     string
	ClientIP string
	// SessionID is the login session of the actor's access token.
	SessionID string
}

// Invitee is the input of Create: who is invited, with which role. There
// is no password: the invitee chooses one through the invitation.
type Invitee struct {
	Email string `json:"email"`
	Name  string `json:"name"`
	Role  string `json:"role"`
}

// NewAccount is the input of Bootstrap, the first superadmin, who has no
// email to be invited through and types a password instead.
type NewAccount struct {
	Email    string
	Name     string
	Password string
}

// MaxPasswordBytes bounds passwords so nobody makes us hash megabytes.
const MaxPasswordBytes = password.MaxBytes

// NormalizeEmail is the form emails are stored and compared in.
func NormalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func (n *Invitee) validate() error {
	n.Email = NormalizeEmail(n.Email)
	n.Name = strings.TrimSpace(n.Name)
	f := identityFields(n.Email, n.Name)
	if n.Role != RoleAdmin && n.Role != RoleSuperadmin {
		f["role"] = "must be admin or superadmin"
	}
	if len(f) > 0 {
		return &ValidationError{Fields: f}
	}
	return nil
}

func (n *NewAccount) validate(rules password.Rules) error {
	n.Email = NormalizeEmail(n.Email)
	n.Name = strings.TrimSpace(n.Name)
	f := identityFields(n.Email, n.Name)
	if msg := rules.Check(n.Password, n.Email, n.Name); msg != "" {
		f["password"] = msg
	}
	if len(f) > 0 {
		return &ValidationError{Fields: f}
	}
	return nil
}

func identityFields(email, name string) map[string]string {
	f := map[string]string{}
	if addr, err := mail.ParseAddress(email); err != nil || addr.Address != email || len(email) > 254 {
		f["email"] = "must be an email address"
	}
	if name == "" || utf8.RuneCountInString(name) > 100 {
		f["name"] = "must be 1 to 100 characters"
	}
	return f
}

// DisabledEvent is the data of admin.account.disabled.
type DisabledEvent struct {
	AccountID  uuid.UUID       `json:"account_id"`
	Email      string          `json:"email"`
	DisabledBy events.AdminRef `json:"disabled_by"`
	DisabledAt time.Time       `json:"disabled_at"`
}

// The roles, re-exported so callers need not import authn.
const (
	RoleSuperadmin = authn.RoleSuperadmin
	RoleAdmin      = authn.RoleAdmin
)
