package account

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/acube/platform/services/admin/internal/token"
	"github.com/acube/platform/services/admin/internal/totp"
)

// Challenge is the second step of a login that needs a factor: it exists
// once the password was right and is spent by a good code. Only the MFA
// token's hash is stored.
type Challenge struct {
	ID        uuid.UUID
	AccountID uuid.UUID
	Hash      []byte
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
	ClientIP  string
}

// Enrolment is a TOTP secret on its way to the admin's app, and, once
// confirmed, the recovery codes, shown this once and stored only hashed.
type Enrolment struct {
	// Secret is base32, for typing into an app.
	Secret string
	// URI is the otpauth:// URI, for a QR code.
	URI string
	// RecoveryCodes each replace one TOTP code, once.
	RecoveryCodes []string
}

// MFAProof is what the second step offers: a TOTP code or a recovery code.
type MFAProof struct {
	Code         string
	RecoveryCode string
}

func mfaKey(id uuid.UUID) string      { return "mfa:" + id.String() }
func passwordKey(id uuid.UUID) string { return "password:" + id.String() }

func (s *Service) newKey(email string) (totp.Key, error) { return totp.NewKey(s.cfg.MFAIssuer, email) }

func (s *Service) newChallenge(accountID uuid.UUID, clientIP string, now time.Time) (string, Challenge, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", Challenge{}, fmt.Errorf("new MFA challenge id: %w", err)
	}
	plain, hash := token.NewSecret()
	return plain, Challenge{ID: id, AccountID: accountID, Hash: hash, CreatedAt: now,
		ExpiresAt: now.Add(s.cfg.MFAChallengeTTL), ClientIP: clientIP}, nil
}

// newRecoveryCodes makes n codes of 80 random bits, shown as
// XXXX-XXXX-XXXX-XXXX, and their hashes.
func newRecoveryCodes(n int) ([]string, [][]byte) {
	codes := make([]string, n)
	hashes := make([][]byte, n)
	for i := range n {
		var b [10]byte
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
		s := base32.StdEncoding.EncodeToString(b[:])
		codes[i] = s[0:4] + "-" + s[4:8] + "-" + s[8:12] + "-" + s[12:16]
		hashes[i] = hashRecoveryCode(codes[i])
	}
	return codes, hashes
}

// hashRecoveryCode is the stored form of a code, typed in any case, with
// or without its dashes and spaces. SHA-256 suffices for 80 random bits.
func hashRecoveryCode(code string) []byte {
	norm := strings.ToUpper(strings.NewReplacer("-", "", " ", "").Replace(code))
	sum := sha256.Sum256([]byte(norm))
	return sum[:]
}

// challenge finds the live challenge of an MFA token within tx, locked,
// with its account; anything else is ErrInvalidMFAToken.
func (s *Service) challenge(ctx context.Context, tx Tx, plain string, now time.Time) (Challenge, Account, error) {
	if plain == "" || len(plain) > 256 {
		return Challenge{}, Account{}, ErrInvalidMFAToken
	}
	ch, err := tx.ChallengeByHash(ctx, token.HashSecret(plain))
	if errors.Is(err, ErrNotFound) {
		return Challenge{}, Account{}, ErrInvalidMFAToken
	}
	if err != nil {
		return Challenge{}, Account{}, err
	}
	a, err := tx.AccountByID(ctx, ch.AccountID)
	if err != nil {
		return Challenge{}, Account{}, err
	}
	if ch.UsedAt != nil || !now.Before(ch.ExpiresAt) || a.Disabled() {
		return Challenge{}, Account{}, ErrInvalidMFAToken
	}
	return ch, a, nil
}

// admitKey applies the per-account-and-client back-off (Config.Throttle's
// Client policy) to one key, as login does: an admitted attempt is
// counted in advance and a success resets the key; a refused one is
// audited and returns *ThrottledError.
func (s *Service) admitKey(ctx context.Context, actor Actor, key, action string, now time.Time) error {
	var refused *ThrottledError
	err := s.store.InTx(ctx, func(tx Tx) error {
		refused = nil
		states, err := tx.Throttles(ctx, key)
		if err != nil {
			return err
		}
		if ok, retry := s.cfg.Throttle.Client.Admit(&states[0], now); !ok {
			refused = &ThrottledError{RetryAfter: retry}
			return emitAudit(ctx, tx, actor, action, actor.ID, now,
				map[string]string{"retry_after": retry.Round(time.Second).String()})
		}
		return tx.SaveThrottles(ctx, states...)
	})
	if err != nil {
		return fmt.Errorf("throttle: %w", err)
	}
	if refused != nil {
		return refused
	}
	return nil
}

// CompleteMFA is a login's second step: the MFA token from Login and a
// TOTP code or a recovery code. A code is accepted once: its time step
// must be later than the last accepted one's. Attempts are throttled per
// account like passwords. When the login enrols TOTP (EnrollmentRequired),
// the code confirms the enrolment started with StartEnrolmentForLogin and
// the session carries the new recovery codes. A wrong code leaves the MFA
// token usable until it expires; a right one spends it.
func (s *Service) CompleteMFA(ctx context.Context, mfaToken string, proof MFAProof, clientIP string) (Session, error) {
	f := map[string]string{}
	if mfaToken == "" {
		f["mfa_token"] = "is required"
	}
	switch {
	case proof.Code == "" && proof.RecoveryCode == "":
		f["code"] = "a TOTP code or a recovery_code is required"
	case proof.Code != "" && proof.RecoveryCode != "":
		f["recovery_code"] = "send either code or recovery_code, not both"
	case len(proof.Code) > 16 || len(proof.RecoveryCode) > 64:
		f["code"] = "is too long"
	}
	if len(f) > 0 {
		return Session{}, &ValidationError{Fields: f}
	}
	now := s.now().UTC()
	var acct Account
	err := s.store.InTx(ctx, func(tx Tx) error {
		var err error
		_, acct, err = s.challenge(ctx, tx, mfaToken, now)
		return err
	})
	if err != nil {
		return Session{}, fmt.Errorf("second factor: %w", err)
	}
	actor := Actor{ID: acct.ID.String(), Email: acct.Email, Name: acct.Name, Role: acct.Role, ClientIP: clientIP}
	if err := s.admitKey(ctx, actor, mfaKey(acct.ID), "mfa_throttled", now); err != nil {
		s.rec.Login(OutcomeThrottled)
		return Session{}, err
	}
	var (
		plain   string
		rt      Refresh
		codes   []string
		outcome error
	)
	err = s.store.InTx(ctx, func(tx Tx) error {
		outcome = nil
		ch, a, err := s.challenge(ctx, tx, mfaToken, now)
		if err != nil {
			return err
		}
		acct = a
		method, ok, err := s.checkProof(ctx, tx, &acct, proof, now)
		if err != nil {
			return err
		}
		if !ok {
			outcome = ErrInvalidCode
			return emitAudit(ctx, tx, actor, "mfa_failed", actor.ID, now, map[string]string{"method": method})
		}
		if method == "enrolment" {
			var hashes [][]byte
			codes, hashes = newRecoveryCodes(s.cfg.RecoveryCodes)
			if err := tx.ReplaceRecoveryCodes(ctx, acct.ID, hashes, now); err != nil {
				return err
			}
			if err := emitAudit(ctx, tx, actor, "totp_enrolled", actor.ID, now, nil); err != nil {
				return err
			}
		}
		if err := tx.MarkChallengeUsed(ctx, ch.ID, now); err != nil {
			return err
		}
		if err := tx.ResetThrottles(ctx, mfaKey(acct.ID)); err != nil {
			return err
		}
		if err := tx.RememberClient(ctx, acct.ID, clientIP, now); err != nil {
			return err
		}
		if plain, rt, err = s.startSession(ctx, tx, acct.ID, now); err != nil {
			return err
		}
		return emitAudit(ctx, tx, actor, "login_succeeded", actor.ID, now, map[string]string{"mfa": method})
	})
	if err != nil {
		return Session{}, fmt.Errorf("second factor: %w", err)
	}
	if outcome != nil {
		s.rec.Login(OutcomeInvalid)
		return Session{}, outcome
	}
	s.rec.Login(OutcomeSuccess)
	sess, err := s.session(acct, plain, rt, now)
	sess.RecoveryCodes = codes
	return sess, err
}

// checkProof checks proof against a's factor within tx and records what a
// success spends (the code's time step, the recovery code, or the
// enrolment's confirmation). It names the method used: totp,
// recovery_code or enrolment.
func (s *Service) checkProof(ctx context.Context, tx Tx, a *Account, proof MFAProof, now time.Time) (string, bool, error) {
	switch {
	case proof.RecoveryCode != "":
		if !a.MFAEnabled() {
			return "recovery_code", false, nil
		}
		ok, err := tx.UseRecoveryCode(ctx, a.ID, hashRecoveryCode(proof.RecoveryCode), now)
		return "recovery_code", ok, err
	case a.MFAEnabled():
		step, ok := totp.Match(a.TOTPSecret, proof.Code, now, a.TOTPLastStep)
		if !ok {
			return "totp", false, nil
		}
		a.TOTPLastStep = step
		return "totp", true, tx.SetTOTP(ctx, *a)
	case a.TOTPPending == "":
		return "enrolment", false, ErrTOTPNotStarted
	default:
		step, ok := totp.Match(a.TOTPPending, proof.Code, now, 0)
		if !ok {
			return "enrolment", false, nil
		}
		a.TOTPSecret, a.TOTPPending, a.TOTPConfirmedAt, a.TOTPLastStep = a.TOTPPending, "", &now, step
		return "enrolment", true, tx.SetTOTP(ctx, *a)
	}
}

// StartEnrolmentForLogin starts the TOTP enrolment of an admin whose
// login stopped at the second step with EnrollmentRequired: it returns a
// new secret, which CompleteMFA confirms with a code. Calling it again
// replaces the secret.
func (s *Service) StartEnrolmentForLogin(ctx context.Context, mfaToken, clientIP string) (Enrolment, error) {
	if mfaToken == "" {
		return Enrolment{}, &ValidationError{Fields: map[string]string{"mfa_token": "is required"}}
	}
	now := s.now().UTC()
	var e Enrolment
	err := s.store.InTx(ctx, func(tx Tx) error {
		_, a, err := s.challenge(ctx, tx, mfaToken, now)
		if err != nil {
			return err
		}
		e, err = s.startEnrolment(ctx, tx, a, Actor{ID: a.ID.String(), Email: a.Email, ClientIP: clientIP}, now)
		return err
	})
	if err != nil {
		return Enrolment{}, fmt.Errorf("start TOTP enrolment: %w", err)
	}
	return e, nil
}

// StartEnrolment starts the TOTP enrolment of the logged-in actor; see
// ConfirmEnrolment. It fails with ErrTOTPEnrolled while a factor is
// confirmed: only a superadmin's reset removes one.
func (s *Service) StartEnrolment(ctx context.Context, actor Actor) (Enrolment, error) {
	id, err := uuid.Parse(actor.ID)
	if err != nil {
		return Enrolment{}, ErrNotFound
	}
	now := s.now().UTC()
	var e Enrolment
	err = s.store.InTx(ctx, func(tx Tx) error {
		a, err := tx.AccountByID(ctx, id)
		if err != nil {
			return err
		}
		e, err = s.startEnrolment(ctx, tx, a, actor, now)
		return err
	})
	if err != nil {
		return Enrolment{}, fmt.Errorf("start TOTP enrolment: %w", err)
	}
	return e, nil
}

func (s *Service) startEnrolment(ctx context.Context, tx Tx, a Account, actor Actor, now time.Time) (Enrolment, error) {
	if a.MFAEnabled() {
		return Enrolment{}, ErrTOTPEnrolled
	}
	key, err := s.newKey(a.Email)
	if err != nil {
		return Enrolment{}, err
	}
	a.TOTPPending = key.Secret
	if err := tx.SetTOTP(ctx, a); err != nil {
		return Enrolment{}, err
	}
	if err := emitAudit(ctx, tx, actor, "totp_enrolment_started", a.ID.String(), now, nil); err != nil {
		return Enrolment{}, err
	}
	return Enrolment{Secret: key.Secret, URI: key.URI}, nil
}

// ConfirmEnrolment confirms the actor's started enrolment with a code from
// the app and returns the recovery codes, shown this once. A wrong code is
// a *ValidationError naming "code"; attempts are throttled like MFA codes.
func (s *Service) ConfirmEnrolment(ctx context.Context, actor Actor, code string) ([]string, error) {
	if code == "" || len(code) > 16 {
		return nil, &ValidationError{Fields: map[string]string{"code": "is required: the 6 digits the app shows"}}
	}
	id, err := uuid.Parse(actor.ID)
	if err != nil {
		return nil, ErrNotFound
	}
	now := s.now().UTC()
	if err := s.admitKey(ctx, actor, mfaKey(id), "mfa_throttled", now); err != nil {
		return nil, err
	}
	var (
		codes   []string
		outcome error
	)
	err = s.store.InTx(ctx, func(tx Tx) error {
		outcome = nil
		a, err := tx.AccountByID(ctx, id)
		if err != nil {
			return err
		}
		if a.MFAEnabled() {
			return ErrTOTPEnrolled
		}
		_, ok, err := s.checkProof(ctx, tx, &a, MFAProof{Code: code}, now)
		if err != nil {
			return err
		}
		if !ok {
			outcome = &ValidationError{Fields: map[string]string{"code": "is not the code the app shows now"}}
			return emitAudit(ctx, tx, actor, "mfa_failed", actor.ID, now, map[string]string{"method": "enrolment"})
		}
		var hashes [][]byte
		codes, hashes = newRecoveryCodes(s.cfg.RecoveryCodes)
		if err := tx.ReplaceRecoveryCodes(ctx, id, hashes, now); err != nil {
			return err
		}
		if err := tx.ResetThrottles(ctx, mfaKey(id)); err != nil {
			return err
		}
		return emitAudit(ctx, tx, actor, "totp_enrolled", actor.ID, now, nil)
	})
	if err != nil {
		return nil, fmt.Errorf("confirm TOTP enrolment: %w", err)
	}
	return codes, outcome
}

// ResetTOTP removes another admin's TOTP factor and recovery codes, for
// one who lost the device: their next login enrols a new one. Only a
// superadmin may, never on itself (another superadmin must), and it is
// audited.
func (s *Service) ResetTOTP(ctx context.Context, actor Actor, id uuid.UUID) (Account, error) {
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
		had := a.MFAEnabled()
		a.TOTPSecret, a.TOTPPending, a.TOTPConfirmedAt, a.TOTPLastStep = "", "", nil, 0
		if err := tx.SetTOTP(ctx, a); err != nil {
			return err
		}
		if err := tx.ReplaceRecoveryCodes(ctx, id, nil, now); err != nil {
			return err
		}
		return emitAudit(ctx, tx, actor, "totp_reset", id.String(), now,
			map[string]any{"mfa_enabled": map[string]bool{"from": had, "to": false}})
	})
	if err != nil {
		return Account{}, fmt.Errorf("reset TOTP of %s: %w", id, err)
	}
	return a, nil
}
