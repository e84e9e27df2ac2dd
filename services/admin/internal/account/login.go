package account

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/mail"
	"time"

	"github.com/google/uuid"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/services/admin/internal/password"
	"github.com/acube/platform/services/admin/internal/token"
)

// Refresh is one stored refresh token. Tokens of one login form a family;
// each use spends the token and issues its successor in the family.
type Refresh struct {
	ID              uuid.UUID
	FamilyID        uuid.UUID
	AccountID       uuid.UUID
	Hash            []byte
	CreatedAt       time.Time
	ExpiresAt       time.Time // idle expiry, never past FamilyExpiresAt
	FamilyExpiresAt time.Time // absolute expiry of the login
	UsedAt          *time.Time
	ReplacedBy      *uuid.UUID
	RevokedAt       *time.Time
	RevokedReason   string
}

// Session is what a login or refresh hands the client: tokens, or, when
// the password was right but a second factor is needed, only MFA.
type Session struct {
	Account Account
	// SessionID names the login session: the access token's sid claim.
	SessionID        uuid.UUID
	AccessToken      string
	AccessExpiresAt  time.Time
	RefreshToken     string
	RefreshExpiresAt time.Time
	// MFA, when set, is the second login step; there are no tokens yet.
	MFA *MFAStep
	// RecoveryCodes are shown once, when a login enrolled TOTP.
	RecoveryCodes []string
}

// MFAStep is the second step of a login that needs one.
type MFAStep struct {
	// Token names the step in POST /api/admin/auth/mfa (and in the
	// enrolment, when EnrollmentRequired); single use.
	Token     string
	ExpiresAt time.Time
	// EnrollmentRequired: the account has no TOTP factor yet but needs
	// one; it enrols now (POST /api/admin/auth/mfa/enroll), then confirms
	// with a code.
	EnrollmentRequired bool
}

// LoginSession is one login: the refresh-token family and every access
// token minted from it carry its id (the sid claim). This service checks
// it on every request, so ending it refuses its tokens at once.
type LoginSession struct {
	ID            uuid.UUID
	AccountID     uuid.UUID
	CreatedAt     time.Time
	ExpiresAt     time.Time
	RevokedAt     *time.Time
	RevokedReason string
}

// Reasons a login is refused, as the login_failed audit records and the
// "Login failed" log lines name them.
const (
	ReasonUnknownEmail    = "unknown_email"
	ReasonWrongPassword   = "wrong_password"
	ReasonAccountDisabled = "account_disabled"
	ReasonThrottled       = "throttled"
	// ReasonInvitationPending is an invited admin who has not chosen a
	// password yet.
	ReasonInvitationPending = "invitation_pending"
)

// LoginError is a refused login as the service log may tell it: why, and
// whom it concerns, by references that give away neither the email nor
// the password. It wraps ErrInvalidCredentials or a *ThrottledError, which
// decide the answer (the client learns nothing of the reason); its text
// names only the reason.
type LoginError struct {
	// Reason is one of the Reason constants.
	Reason string
	// AccountID is the account's id when the email names an account and
	// the attempt got as far as looking it up; "" for an unknown email
	// and for a throttled attempt, which is refused before the lookup.
	AccountID string
	// AccountRef is a short keyed hash of the normalized email (see
	// Config.LogKey): the same email gives the same reference, whether it
	// names an account or not, and the email cannot be recovered from it.
	AccountRef string
	err        error
}

// Error names the reason and the answer, never the email or password.
func (e *LoginError) Error() string { return "login refused (" + e.Reason + "): " + e.err.Error() }

// Unwrap returns ErrInvalidCredentials or the *ThrottledError.
func (e *LoginError) Unwrap() error { return e.err }

// accountRef is the log's reference to email: HMAC-SHA256 under the
// service's log key, 64 bits in hex. Keyed, so nobody without the key can
// confirm a guessed email by hashing it.
func (s *Service) accountRef(email string) string {
	m := hmac.New(sha256.New, s.logKey)
	m.Write([]byte(email))
	return hex.EncodeToString(m.Sum(nil)[:8])
}

// Login checks email and password from clientIP. A wrong email and a wrong
// password are indistinguishable: both run exactly one argon2id
// verification (an unknown email against a dummy hash), the same
// transactions, and return ErrInvalidCredentials. Each attempt is audited;
// throttled attempts return *ThrottledError. Every refusal comes as a
// *LoginError wrapping those, for the log.
func (s *Service) Login(ctx context.Context, email, pw, clientIP string) (Session, error) {
	email = NormalizeEmail(email)
	if f := loginFields(email, pw); f != nil {
		return Session{}, &ValidationError{Fields: f}
	}
	now := s.now().UTC()
	actor := Actor{Email: email, ClientIP: clientIP}

	if err := s.admit(ctx, actor, now); err != nil {
		var throttled *ThrottledError
		if errors.As(err, &throttled) {
			return Session{}, &LoginError{Reason: ReasonThrottled, AccountRef: s.accountRef(email), err: throttled}
		}
		return Session{}, err
	}

	acct, err := s.store.AccountByEmail(ctx, email)
	found := err == nil
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Session{}, fmt.Errorf("login: %w", err)
	}
	hash := s.hasher.Dummy()
	if found {
		actor.ID = acct.ID.String()
		if acct.PasswordHash != "" {
			hash = acct.PasswordHash
		}
	}
	ok, rehash, err := s.hasher.Verify(ctx, hash, pw)
	if err != nil && !errors.Is(err, password.ErrMalformed) {
		return Session{}, fmt.Errorf("login: %w", err)
	}
	// An invited admin has no password yet: the dummy hash was verified
	// instead, so the answer takes as long and says the same.
	invited := found && acct.PasswordHash == ""
	if !found || !ok || invited || acct.Disabled() {
		reason := ReasonWrongPassword
		switch {
		case !found:
			reason = ReasonUnknownEmail
		case invited:
			reason = ReasonInvitationPending
		case acct.Disabled() && ok:
			reason = ReasonAccountDisabled
		}
		s.rec.Login(OutcomeInvalid)
		err := s.store.InTx(ctx, func(tx Tx) error {
			return emitAudit(ctx, tx, actor, "login_failed", actor.ID, now, map[string]string{"reason": reason})
		})
		if err != nil {
			return Session{}, fmt.Errorf("login: record failure: %w", err)
		}
		return Session{}, &LoginError{Reason: reason, AccountID: actor.ID, AccountRef: s.accountRef(email), err: ErrInvalidCredentials}
	}

	newHash := ""
	if rehash {
		if newHash, err = s.hasher.Hash(ctx, pw); err != nil {
			return Session{}, fmt.Errorf("login: rehash: %w", err)
		}
	}
	if s.mfaRequired(acct) {
		return s.passwordStep(ctx, acct, actor, newHash, now)
	}
	var (
		plain string
		rt    Refresh
	)
	err = s.store.InTx(ctx, func(tx Tx) error {
		if err := tx.ResetThrottles(ctx, clientKey(email, clientIP), accountKey(email)); err != nil {
			return err
		}
		if err := tx.RememberClient(ctx, acct.ID, clientIP, now); err != nil {
			return err
		}
		if newHash != "" {
			if err := tx.SetPasswordHash(ctx, acct.ID, newHash); err != nil {
				return err
			}
		}
		var err error
		if plain, rt, err = s.startSession(ctx, tx, acct.ID, now); err != nil {
			return err
		}
		return emitAudit(ctx, tx, actor, "login_succeeded", actor.ID, now, nil)
	})
	if err != nil {
		return Session{}, fmt.Errorf("login: %w", err)
	}
	s.rec.Login(OutcomeSuccess)
	return s.session(acct, plain, rt, now)
}

// passwordStep ends a login whose password was right but which needs a
// second factor: it hands out a short-lived, single-use MFA token and no
// access token, so nothing but the second step (or the enrolment) can be
// done with the password alone.
func (s *Service) passwordStep(ctx context.Context, acct Account, actor Actor, newHash string, now time.Time) (Session, error) {
	plain, ch, err := s.newChallenge(acct.ID, actor.ClientIP, now)
	if err != nil {
		return Session{}, fmt.Errorf("login: %w", err)
	}
	err = s.store.InTx(ctx, func(tx Tx) error {
		if err := tx.ResetThrottles(ctx, clientKey(acct.Email, actor.ClientIP), accountKey(acct.Email)); err != nil {
			return err
		}
		// The client knows the password: exempt it from the account-wide
		// password back-off, as after any right password. Codes have a
		// back-off of their own.
		if err := tx.RememberClient(ctx, acct.ID, actor.ClientIP, now); err != nil {
			return err
		}
		if newHash != "" {
			if err := tx.SetPasswordHash(ctx, acct.ID, newHash); err != nil {
				return err
			}
		}
		if err := tx.InsertChallenge(ctx, ch); err != nil {
			return err
		}
		return emitAudit(ctx, tx, actor, "login_password_verified", actor.ID, now,
			map[string]bool{"mfa_enrolled": acct.MFAEnabled()})
	})
	if err != nil {
		return Session{}, fmt.Errorf("login: %w", err)
	}
	s.rec.Login(OutcomeMFARequired)
	return Session{Account: acct, MFA: &MFAStep{Token: plain, ExpiresAt: ch.ExpiresAt,
		EnrollmentRequired: !acct.MFAEnabled()}}, nil
}

func loginFields(email, pw string) map[string]string {
	f := map[string]string{}
	if email == "" {
		f["email"] = "is required"
	} else if addr, err := mail.ParseAddress(email); err != nil || addr.Address != email || len(email) > 254 {
		// Not an address no account can have: the request is wrong, not
		// the credentials (422, not 401), and nothing is looked up.
		f["email"] = "must be an email address"
	}
	if pw == "" {
		f["password"] = "is required"
	} else if len(pw) > MaxPasswordBytes {
		f["password"] = fmt.Sprintf("must be at most %d bytes", MaxPasswordBytes)
	}
	if len(f) == 0 {
		return nil
	}
	return f
}

// admit applies the throttle rules in one transaction. A refused attempt
// is audited and committed; an admitted one is counted in advance.
func (s *Service) admit(ctx context.Context, actor Actor, now time.Time) error {
	var refused *ThrottledError
	err := s.store.InTx(ctx, func(tx Tx) error {
		refused = nil
		known, err := tx.KnownClient(ctx, actor.Email, actor.ClientIP, now.Add(-s.cfg.Throttle.KnownFor))
		if err != nil {
			return err
		}
		keys := []string{clientKey(actor.Email, actor.ClientIP)}
		rules := []Policy{s.cfg.Throttle.Client}
		if !known {
			keys = append(keys, accountKey(actor.Email))
			rules = append(rules, s.cfg.Throttle.Account)
		}
		states, err := tx.Throttles(ctx, keys...)
		if err != nil {
			return err
		}
		var wait time.Duration
		for i := range states {
			if ok, retry := rules[i].Admit(&states[i], now); !ok {
				wait = max(wait, retry)
			}
		}
		if wait > 0 {
			refused = &ThrottledError{RetryAfter: wait}
			return emitAudit(ctx, tx, actor, "login_throttled", "", now,
				map[string]string{"retry_after": wait.Round(time.Second).String()})
		}
		return tx.SaveThrottles(ctx, states...)
	})
	if err != nil {
		return fmt.Errorf("login: throttle: %w", err)
	}
	if refused != nil {
		s.rec.Login(OutcomeThrottled)
		return refused
	}
	return nil
}

// Refresh spends a refresh token and returns a new session in the same
// family. The token row is locked, so concurrent uses of one token are
// served one at a time: the first gets the successor; the others, and any
// use within RefreshGrace after it, get ErrRefreshReplayed and change
// nothing (neither a second successor nor the end of the first one's
// session). A spent token used after the grace means two parties hold the
// family: it is revoked whole, at every service (ErrRefreshReused).
func (s *Service) Refresh(ctx context.Context, plain, clientIP string) (Session, error) {
	if plain == "" {
		s.rec.Refresh(OutcomeInvalid)
		return Session{}, &ValidationError{Fields: map[string]string{"refresh_token": "is required"}}
	}
	if len(plain) > 256 {
		s.rec.Refresh(OutcomeInvalid)
		return Session{}, ErrInvalidRefresh
	}
	now := s.now().UTC()
	var (
		acct     Account
		next     Refresh
		newPlain string
		outcome  error
	)
	err := s.store.InTx(ctx, func(tx Tx) error {
		outcome = nil
		rt, err := tx.RefreshByHash(ctx, token.HashSecret(plain))
		if errors.Is(err, ErrNotFound) {
			outcome = ErrInvalidRefresh
			return nil
		}
		if err != nil {
			return err
		}
		if acct, err = tx.AccountByID(ctx, rt.AccountID); err != nil {
			return err
		}
		actor := Actor{ID: acct.ID.String(), Email: acct.Email, Name: acct.Name, Role: acct.Role, ClientIP: clientIP}
		switch {
		case rt.RevokedAt != nil, acct.Disabled(), !now.Before(rt.ExpiresAt), !now.Before(rt.FamilyExpiresAt):
			outcome = ErrInvalidRefresh
			return nil
		case rt.UsedAt != nil && now.Sub(*rt.UsedAt) <= s.cfg.RefreshGrace:
			// A retry, a race between two tabs, or a thief who copied the
			// token: answering with tokens would arm the thief; revoking
			// would log the user out. Refuse, change nothing.
			outcome = ErrRefreshReplayed
			return emitAudit(ctx, tx, actor, "refresh_replayed", actor.ID, now,
				map[string]string{"family_id": rt.FamilyID.String()})
		case rt.UsedAt != nil:
			outcome = ErrRefreshReused
			if err := s.endSession(ctx, tx, acct.ID, rt.FamilyID, events.RevokeReasonRefreshReuse, now); err != nil {
				return err
			}
			return emitAudit(ctx, tx, actor, "refresh_reuse_detected", actor.ID, now,
				map[string]string{"family_id": rt.FamilyID.String(), "why": "spent token used"})
		}
		if newPlain, next, err = s.newRefresh(acct.ID, rt.FamilyID, now, rt.FamilyExpiresAt); err != nil {
			return err
		}
		if err := tx.InsertRefresh(ctx, next); err != nil {
			return err
		}
		return tx.MarkRefreshUsed(ctx, rt.ID, now, next.ID)
	})
	if err != nil {
		return Session{}, fmt.Errorf("refresh: %w", err)
	}
	switch {
	case errors.Is(outcome, ErrRefreshReused):
		s.rec.Refresh(OutcomeReused)
		return Session{}, outcome
	case errors.Is(outcome, ErrRefreshReplayed):
		s.rec.Refresh(OutcomeReplayed)
		return Session{}, outcome
	case outcome != nil:
		s.rec.Refresh(OutcomeInvalid)
		return Session{}, outcome
	}
	s.rec.Refresh(OutcomeSuccess)
	return s.session(acct, newPlain, next, now)
}

// Logout ends the login session plain belongs to: its refresh tokens and,
// at once, its access tokens, here and (admin.sessions.revoked) at every
// other service. An unknown token is not an error: the result, no live
// session, is the same.
func (s *Service) Logout(ctx context.Context, plain, clientIP string) error {
	if plain == "" || len(plain) > 256 {
		return nil
	}
	now := s.now().UTC()
	err := s.store.InTx(ctx, func(tx Tx) error {
		rt, err := tx.RefreshByHash(ctx, token.HashSecret(plain))
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if rt.RevokedAt != nil {
			return nil
		}
		acct, err := tx.AccountByID(ctx, rt.AccountID)
		if err != nil {
			return err
		}
		if err := s.endSession(ctx, tx, acct.ID, rt.FamilyID, events.RevokeReasonLogout, now); err != nil {
			return err
		}
		actor := Actor{ID: acct.ID.String(), Email: acct.Email, ClientIP: clientIP}
		return emitAudit(ctx, tx, actor, "logout", actor.ID, now, map[string]string{"session_id": rt.FamilyID.String()})
	})
	if err != nil {
		return fmt.Errorf("logout: %w", err)
	}
	return nil
}

// startSession begins a login session within tx: its row and the first
// refresh token of its family, whose id it shares.
func (s *Service) startSession(ctx context.Context, tx Tx, accountID uuid.UUID, now time.Time) (string, Refresh, error) {
	plain, rt, err := s.newRefresh(accountID, uuid.Nil, now, now.Add(s.cfg.RefreshTTL))
	if err != nil {
		return "", Refresh{}, err
	}
	if err := tx.InsertRefresh(ctx, rt); err != nil {
		return "", Refresh{}, err
	}
	err = tx.InsertSession(ctx, LoginSession{ID: rt.FamilyID, AccountID: accountID, CreatedAt: now, ExpiresAt: rt.FamilyExpiresAt})
	return plain, rt, err
}

// endSession ends one login session within tx: its refresh tokens, its
// row, and its access tokens everywhere.
func (s *Service) endSession(ctx context.Context, tx Tx, accountID, id uuid.UUID, reason string, now time.Time) error {
	if err := tx.RevokeFamily(ctx, id, now, reason); err != nil {
		return err
	}
	if err := tx.RevokeSession(ctx, id, now, reason); err != nil {
		return err
	}
	return emitRevoked(ctx, tx, accountID, id.String(), reason, now)
}

// Authorize checks, on every request this service serves, that a verified
// access token still stands: its session was not ended, its account is
// not disabled and still has the token's role. It returns the caller as
// the database knows it now; any failure is ErrSessionRevoked. Replicas
// share the database, so a revocation holds at all of them at once.
func (s *Service) Authorize(ctx context.Context, adminID, sessionID, role string) (Actor, error) {
	sid, err := uuid.Parse(sessionID)
	if err != nil {
		return Actor{}, ErrSessionRevoked // tokens from before sessions existed, or none at all
	}
	sess, acct, err := s.store.SessionState(ctx, sid)
	if errors.Is(err, ErrNotFound) {
		return Actor{}, ErrSessionRevoked
	}
	if err != nil {
		return Actor{}, fmt.Errorf("authorize session %s: %w", sid, err)
	}
	if sess.RevokedAt != nil || acct.Disabled() || acct.ID.String() != adminID || acct.Role != role {
		return Actor{}, ErrSessionRevoked
	}
	return Actor{ID: adminID, Email: acct.Email, Name: acct.Name, Role: acct.Role, SessionID: sessionID}, nil
}

func (s *Service) newRefresh(accountID, family uuid.UUID, now, familyExp time.Time) (string, Refresh, error) {
	plain, hash := token.NewSecret()
	id, err := uuid.NewV7()
	if err != nil {
		return "", Refresh{}, fmt.Errorf("new refresh token id: %w", err)
	}
	if family == uuid.Nil {
		family = id // a login's first token names its family
	}
	return plain, Refresh{ID: id, FamilyID: family, AccountID: accountID, Hash: hash,
		CreatedAt: now, ExpiresAt: minTime(now.Add(s.cfg.RefreshIdle), familyExp), FamilyExpiresAt: familyExp}, nil
}

func (s *Service) session(a Account, plain string, rt Refresh, now time.Time) (Session, error) {
	access, exp, err := s.signer.Sign(token.Subject{ID: a.ID.String(), Email: a.Email, Name: a.Name, Role: a.Role,
		SessionID: rt.FamilyID.String()}, now)
	if err != nil {
		return Session{}, err
	}
	return Session{Account: a, SessionID: rt.FamilyID, AccessToken: access, AccessExpiresAt: exp, RefreshToken: plain,
		RefreshExpiresAt: rt.ExpiresAt}, nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
