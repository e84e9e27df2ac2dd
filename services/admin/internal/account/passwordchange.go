package account

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/services/admin/internal/password"
)

// ChangePassword replaces the actor's password, given the current one,
// and ends every other session of the actor at once (refresh tokens, and
// access tokens here and, through admin.sessions.revoked, everywhere);
// the session making the change goes on. Wrong current passwords are
// throttled like logins. The new password must pass the rules and differ
// from the current one. It returns how many sessions it ended.
func (s *Service) ChangePassword(ctx context.Context, actor Actor, current, next string) (int, error) {
	f := map[string]string{}
	if current == "" || len(current) > MaxPasswordBytes {
		f["current_password"] = "is required"
	}
	if next == "" {
		f["new_password"] = "is required"
	}
	if len(f) > 0 {
		return 0, &ValidationError{Fields: f}
	}
	id, err := uuid.Parse(actor.ID)
	if err != nil {
		return 0, ErrNotFound
	}
	sid, _ := uuid.Parse(actor.SessionID) // uuid.Nil ends every session
	now := s.now().UTC()
	if err := s.admitKey(ctx, actor, passwordKey(id), "password_change_throttled", now); err != nil {
		return 0, err
	}
	acct, err := s.store.AccountByEmail(ctx, actor.Email)
	if err != nil {
		return 0, fmt.Errorf("change password: %w", err)
	}
	ok, _, err := s.hasher.Verify(ctx, acct.PasswordHash, current)
	if err != nil && !errors.Is(err, password.ErrMalformed) {
		return 0, fmt.Errorf("change password: %w", err)
	}
	if !ok {
		err := s.store.InTx(ctx, func(tx Tx) error {
			return emitAudit(ctx, tx, actor, "password_change_failed", actor.ID, now,
				map[string]string{"reason": "wrong current password"})
		})
		if err != nil {
			return 0, fmt.Errorf("change password: %w", err)
		}
		return 0, &ValidationError{Fields: map[string]string{"current_password": "is not your current password"}}
	}
	if msg := s.cfg.Passwords.Check(next, acct.Email, acct.Name); msg != "" {
		return 0, &ValidationError{Fields: map[string]string{"new_password": msg}}
	}
	if next == current {
		return 0, &ValidationError{Fields: map[string]string{"new_password": "must differ from the current password"}}
	}
	hash, err := s.hasher.Hash(ctx, next)
	if err != nil {
		return 0, fmt.Errorf("change password: %w", err)
	}
	var ended []uuid.UUID
	err = s.store.InTx(ctx, func(tx Tx) error {
		if _, err := tx.AccountByID(ctx, id); err != nil {
			return err
		}
		if err := tx.SetPassword(ctx, id, hash, now); err != nil {
			return err
		}
		if err := tx.ResetThrottles(ctx, passwordKey(id)); err != nil {
			return err
		}
		if ended, err = tx.RevokeAccountSessions(ctx, id, sid, now, events.RevokeReasonPasswordChanged); err != nil {
			return err
		}
		for _, other := range ended {
			if err := tx.RevokeFamily(ctx, other, now, events.RevokeReasonPasswordChanged); err != nil {
				return err
			}
			if err := emitRevoked(ctx, tx, id, other.String(), events.RevokeReasonPasswordChanged, now); err != nil {
				return err
			}
		}
		return emitAudit(ctx, tx, actor, "password_changed", actor.ID, now, map[string]int{"sessions_ended": len(ended)})
	})
	if err != nil {
		return 0, fmt.Errorf("change password: %w", err)
	}
	return len(ended), nil
}
