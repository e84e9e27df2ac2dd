// Package account holds the admin accounts and their login: creating,
// listing and disabling admins, password login with per-account
// throttling, rotating refresh tokens and logout. Every action is audited
// through an audit event written in the same transaction as its change.
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
	ID           uuid.UUID  `json:"id"`
	Email        string     `json:"email"`
	Name         string     `json:"name"`
	Role         string     `json:"role"`
	PasswordHash string     `json:"-"`
	CreatedAt    time.Time  `json:"created_at"`
	CreatedBy    string     `json:"created_by,omitempty"`
	DisabledAt   *time.Time `json:"disabled_at,omitempty"`
}

// Disabled reports whether the account may no longer log in.
func (a Account) Disabled() bool { return a.DisabledAt != nil }

// Actor is who does something, as the HTTP layer learned it.
type Actor struct {
	ID       string
	Email    string
	Name     string
	Role     string
	ClientIP string
}

// NewAccount is the input of Create.
type NewAccount struct {
	Email    string `json:"email"`
	Name     string `json:"name"`
	Role     string `json:"role"`
	Password string `json:"password"`
}

// MaxPasswordBytes bounds passwords so nobody makes us hash megabytes.
const MaxPasswordBytes = 1024

// NormalizeEmail is the form emails are stored and compared in.
func NormalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func (n *NewAccount) validate(minPassword int) error {
	f := map[string]string{}
	n.Email = NormalizeEmail(n.Email)
	n.Name = strings.TrimSpace(n.Name)
	if addr, err := mail.ParseAddress(n.Email); err != nil || addr.Address != n.Email || len(n.Email) > 254 {
		f["email"] = "must be an email address"
	}
	if n.Name == "" || utf8.RuneCountInString(n.Name) > 100 {
		f["name"] = "must be 1 to 100 characters"
	}
	if n.Role != RoleAdmin && n.Role != RoleSuperadmin {
		f["role"] = "must be admin or superadmin"
	}
	if msg := checkPassword(n.Password, n.Email, minPassword); msg != "" {
		f["password"] = msg
	}
	if len(f) > 0 {
		return &ValidationError{Fields: f}
	}
	return nil
}

// checkPassword applies OWASP's length rules: long enough, not absurdly
// long, and not the email itself; no composition rules.
func checkPassword(pw, email string, minLen int) string {
	switch {
	case utf8.RuneCountInString(pw) < minLen:
		return fmt.Sprintf("must be at least %d characters", minLen)
	case len(pw) > MaxPasswordBytes:
		return fmt.Sprintf("must be at most %d bytes", MaxPasswordBytes)
	case strings.EqualFold(strings.TrimSpace(pw), email):
		return "must not be the email address"
	}
	return ""
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
