package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/acube/platform/services/admin/internal/account"
)

// SQL of login sessions, invitations, MFA challenges and recovery codes.
const (
	insertSession = `INSERT INTO sessions (id, account_id, created_at, expires_at) VALUES ($1, $2, $3, $4)`
	revokeSession = `UPDATE sessions SET revoked_at = $2, revoked_reason = $3 WHERE id = $1 AND revoked_at IS NULL`
	revokeOthers  = `
UPDATE sessions SET revoked_at = $3, revoked_reason = $4
WHERE account_id = $1 AND id <> $2 AND revoked_at IS NULL
RETURNING id`
	// sessionState is the one read every authenticated request costs.
	sessionState = `
SELECT s.id, s.account_id, s.created_at, s.expires_at, s.revoked_at, s.revoked_reason,
	a.id, a.email, a.name, a.role, a.disabled_at
FROM sessions s JOIN accounts a ON a.id = s.account_id
WHERE s.id = $1`

	invitationCols   = `id, account_id, token_hash, created_at, expires_at, used_at, revoked_at, created_by`
	insertInvitation = `INSERT INTO invitations (` + invitationCols + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`
	invitationByHash = `SELECT ` + invitationCols + ` FROM invitations WHERE token_hash = $1 FOR UPDATE`
	useInvitation    = `UPDATE invitations SET used_at = $2 WHERE id = $1`
	revokeInvites    = `
UPDATE invitations SET revoked_at = $2 WHERE account_id = $1 AND used_at IS NULL AND revoked_at IS NULL`

	challengeCols   = `id, account_id, token_hash, created_at, expires_at, used_at, client_ip`
	insertChallenge = `INSERT INTO mfa_challenges (` + challengeCols + `) VALUES ($1, $2, $3, $4, $5, $6, $7)`
	challengeByHash = `SELECT ` + challengeCols + ` FROM mfa_challenges WHERE token_hash = $1 FOR UPDATE`
	useChallenge    = `UPDATE mfa_challenges SET used_at = $2 WHERE id = $1`

	dropRecovery   = `DELETE FROM recovery_codes WHERE account_id = $1`
	insertRecovery = `
INSERT INTO recovery_codes (account_id, code_hash, created_at) SELECT $1, h, $3 FROM unnest($2::bytea[]) AS h
ON CONFLICT DO NOTHING`
	useRecovery = `
UPDATE recovery_codes SET used_at = $3 WHERE account_id = $1 AND code_hash = $2 AND used_at IS NULL`
)

// SessionState returns a login session and its account for
// account.Service.Authorize.
func (s *Accounts) SessionState(ctx context.Context, id uuid.UUID) (account.LoginSession, account.Account, error) {
	var (
		ls account.LoginSession
		a  account.Account
	)
	err := s.pool.QueryRow(ctx, sessionState, id).Scan(&ls.ID, &ls.AccountID, &ls.CreatedAt, &ls.ExpiresAt,
		&ls.RevokedAt, &ls.RevokedReason, &a.ID, &a.Email, &a.Name, &a.Role, &a.DisabledAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return account.LoginSession{}, account.Account{}, account.ErrNotFound
	}
	if err != nil {
		return account.LoginSession{}, account.Account{}, fmt.Errorf("read session %s: %w", id, err)
	}
	return ls, a, nil
}

func (t accountTx) InsertSession(ctx context.Context, s account.LoginSession) error {
	if _, err := t.tx.Exec(ctx, insertSession, s.ID, s.AccountID, s.CreatedAt, s.ExpiresAt); err != nil {
		return fmt.Errorf("insert session: %w", err)
	}
	return nil
}

func (t accountTx) RevokeSession(ctx context.Context, id uuid.UUID, at time.Time, reason string) error {
	if _, err := t.tx.Exec(ctx, revokeSession, id, at, reason); err != nil {
		return fmt.Errorf("revoke session %s: %w", id, err)
	}
	return nil
}

func (t accountTx) RevokeAccountSessions(ctx context.Context, accountID, except uuid.UUID, at time.Time, reason string) ([]uuid.UUID, error) {
	rows, err := t.tx.Query(ctx, revokeOthers, accountID, except, at, reason)
	if err != nil {
		return nil, fmt.Errorf("revoke sessions of %s: %w", accountID, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("revoke sessions of %s: %w", accountID, err)
	}
	return ids, nil
}

func (t accountTx) InsertInvitation(ctx context.Context, inv account.Invitation) error {
	_, err := t.tx.Exec(ctx, insertInvitation, inv.ID, inv.AccountID, inv.Hash, inv.CreatedAt, inv.ExpiresAt, inv.UsedAt,
		inv.RevokedAt, inv.CreatedBy)
	if err != nil {
		return fmt.Errorf("insert invitation: %w", err)
	}
	return nil
}

func (t accountTx) InvitationByHash(ctx context.Context, hash []byte) (account.Invitation, error) {
	var inv account.Invitation
	err := t.tx.QueryRow(ctx, invitationByHash, hash).Scan(&inv.ID, &inv.AccountID, &inv.Hash, &inv.CreatedAt,
		&inv.ExpiresAt, &inv.UsedAt, &inv.RevokedAt, &inv.CreatedBy)
	if errors.Is(err, pgx.ErrNoRows) {
		return account.Invitation{}, account.ErrNotFound
	}
	if err != nil {
		return account.Invitation{}, fmt.Errorf("read invitation: %w", err)
	}
	return inv, nil
}

func (t accountTx) MarkInvitationUsed(ctx context.Context, id uuid.UUID, at time.Time) error {
	if _, err := t.tx.Exec(ctx, useInvitation, id, at); err != nil {
		return fmt.Errorf("spend invitation %s: %w", id, err)
	}
	return nil
}

func (t accountTx) RevokeInvitations(ctx context.Context, accountID uuid.UUID, at time.Time) error {
	if _, err := t.tx.Exec(ctx, revokeInvites, accountID, at); err != nil {
		return fmt.Errorf("revoke invitations of %s: %w", accountID, err)
	}
	return nil
}

func (t accountTx) InsertChallenge(ctx context.Context, c account.Challenge) error {
	_, err := t.tx.Exec(ctx, insertChallenge, c.ID, c.AccountID, c.Hash, c.CreatedAt, c.ExpiresAt, c.UsedAt, c.ClientIP)
	if err != nil {
		return fmt.Errorf("insert MFA challenge: %w", err)
	}
	return nil
}

func (t accountTx) ChallengeByHash(ctx context.Context, hash []byte) (account.Challenge, error) {
	var c account.Challenge
	err := t.tx.QueryRow(ctx, challengeByHash, hash).Scan(&c.ID, &c.AccountID, &c.Hash, &c.CreatedAt, &c.ExpiresAt,
		&c.UsedAt, &c.ClientIP)
	if errors.Is(err, pgx.ErrNoRows) {
		return account.Challenge{}, account.ErrNotFound
	}
	if err != nil {
		return account.Challenge{}, fmt.Errorf("read MFA challenge: %w", err)
	}
	return c, nil
}

func (t accountTx) MarkChallengeUsed(ctx context.Context, id uuid.UUID, at time.Time) error {
	if _, err := t.tx.Exec(ctx, useChallenge, id, at); err != nil {
		return fmt.Errorf("spend MFA challenge %s: %w", id, err)
	}
	return nil
}

func (t accountTx) ReplaceRecoveryCodes(ctx context.Context, accountID uuid.UUID, hashes [][]byte, at time.Time) error {
	if _, err := t.tx.Exec(ctx, dropRecovery, accountID); err != nil {
		return fmt.Errorf("drop recovery codes of %s: %w", accountID, err)
	}
	if len(hashes) == 0 {
		return nil
	}
	if _, err := t.tx.Exec(ctx, insertRecovery, accountID, hashes, at); err != nil {
		return fmt.Errorf("store recovery codes of %s: %w", accountID, err)
	}
	return nil
}

func (t accountTx) UseRecoveryCode(ctx context.Context, accountID uuid.UUID, hash []byte, at time.Time) (bool, error) {
	tag, err := t.tx.Exec(ctx, useRecovery, accountID, hash, at)
	if err != nil {
		return false, fmt.Errorf("spend recovery code of %s: %w", accountID, err)
	}
	return tag.RowsAffected() == 1, nil
}
