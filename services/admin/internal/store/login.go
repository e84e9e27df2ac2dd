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

const (
	ensureThrottle = `INSERT INTO login_throttle (key) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING`
	lockThrottles  = `SELECT key, failures, last_at, locked_until FROM login_throttle WHERE key = ANY($1) FOR UPDATE`
	saveThrottle   = `UPDATE login_throttle SET failures = $2, last_at = $3, locked_until = $4 WHERE key = $1`
	resetThrottles = `DELETE FROM login_throttle WHERE key = ANY($1)`
	knownClient    = `
SELECT EXISTS (
	SELECT 1 FROM known_clients k JOIN accounts a ON a.id = k.account_id
	WHERE a.email = $1 AND k.client_ip = $2 AND k.last_success_at > $3)`
	rememberClient = `
INSERT INTO known_clients (account_id, client_ip, last_success_at) VALUES ($1, $2, $3)
ON CONFLICT (account_id, client_ip) DO UPDATE SET last_success_at = EXCLUDED.last_success_at`

	refreshCols   = `id, family_id, account_id, token_hash, created_at, expires_at, family_expires_at, used_at, replaced_by, revoked_at, revoked_reason`
	insertRefresh = `INSERT INTO refresh_tokens (` + refreshCols + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`
	refreshByHash = `SELECT ` + refreshCols + ` FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE`
	markUsed      = `UPDATE refresh_tokens SET used_at = $2, replaced_by = $3 WHERE id = $1`
	revokeFamily  = `UPDATE refresh_tokens SET revoked_at = $2, revoked_reason = $3 WHERE family_id = $1 AND revoked_at IS NULL`
	revokeAccount = `UPDATE refresh_tokens SET revoked_at = $2, revoked_reason = $3 WHERE account_id = $1 AND revoked_at IS NULL`
)

func (t accountTx) Throttles(ctx context.Context, keys ...string) ([]account.ThrottleState, error) {
	if _, err := t.tx.Exec(ctx, ensureThrottle, keys); err != nil {
		return nil, fmt.Errorf("create throttle rows: %w", err)
	}
	rows, err := t.tx.Query(ctx, lockThrottles, keys)
	if err != nil {
		return nil, fmt.Errorf("lock throttle rows: %w", err)
	}
	byKey := map[string]account.ThrottleState{}
	for rows.Next() {
		var (
			st           account.ThrottleState
			last, locked *time.Time
		)
		if err := rows.Scan(&st.Key, &st.Failures, &last, &locked); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read throttle row: %w", err)
		}
		if last != nil {
			st.LastAt = *last
		}
		if locked != nil {
			st.LockedUntil = *locked
		}
		byKey[st.Key] = st
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read throttle rows: %w", err)
	}
	out := make([]account.ThrottleState, len(keys))
	for i, k := range keys {
		out[i] = byKey[k]
		out[i].Key = k
	}
	return out, nil
}

func (t accountTx) SaveThrottles(ctx context.Context, states ...account.ThrottleState) error {
	for _, st := range states {
		if _, err := t.tx.Exec(ctx, saveThrottle, st.Key, st.Failures, nullTime(st.LastAt), nullTime(st.LockedUntil)); err != nil {
			return fmt.Errorf("save throttle: %w", err)
		}
	}
	return nil
}

func (t accountTx) ResetThrottles(ctx context.Context, keys ...string) error {
	if _, err := t.tx.Exec(ctx, resetThrottles, keys); err != nil {
		return fmt.Errorf("reset throttles: %w", err)
	}
	return nil
}

func (t accountTx) KnownClient(ctx context.Context, email, ip string, since time.Time) (bool, error) {
	var known bool
	if err := t.tx.QueryRow(ctx, knownClient, email, ip, since).Scan(&known); err != nil {
		return false, fmt.Errorf("check known client: %w", err)
	}
	return known, nil
}

func (t accountTx) RememberClient(ctx context.Context, accountID uuid.UUID, ip string, at time.Time) error {
	if _, err := t.tx.Exec(ctx, rememberClient, accountID, ip, at); err != nil {
		return fmt.Errorf("remember client: %w", err)
	}
	return nil
}

func (t accountTx) InsertRefresh(ctx context.Context, r account.Refresh) error {
	_, err := t.tx.Exec(ctx, insertRefresh, r.ID, r.FamilyID, r.AccountID, r.Hash, r.CreatedAt, r.ExpiresAt,
		r.FamilyExpiresAt, r.UsedAt, r.ReplacedBy, r.RevokedAt, r.RevokedReason)
	if err != nil {
		return fmt.Errorf("insert refresh token: %w", err)
	}
	return nil
}

func scanRefresh(row pgx.Row) (account.Refresh, error) {
	var r account.Refresh
	err := row.Scan(&r.ID, &r.FamilyID, &r.AccountID, &r.Hash, &r.CreatedAt, &r.ExpiresAt, &r.FamilyExpiresAt,
		&r.UsedAt, &r.ReplacedBy, &r.RevokedAt, &r.RevokedReason)
	if errors.Is(err, pgx.ErrNoRows) {
		return account.Refresh{}, account.ErrNotFound
	}
	if err != nil {
		return account.Refresh{}, fmt.Errorf("read refresh token: %w", err)
	}
	return r, nil
}

func (t accountTx) RefreshByHash(ctx context.Context, hash []byte) (account.Refresh, error) {
	return scanRefresh(t.tx.QueryRow(ctx, refreshByHash, hash))
}

func (t accountTx) MarkRefreshUsed(ctx context.Context, id uuid.UUID, at time.Time, replacedBy uuid.UUID) error {
	if _, err := t.tx.Exec(ctx, markUsed, id, at, replacedBy); err != nil {
		return fmt.Errorf("mark refresh token used: %w", err)
	}
	return nil
}

func (t accountTx) RevokeFamily(ctx context.Context, family uuid.UUID, at time.Time, reason string) error {
	if _, err := t.tx.Exec(ctx, revokeFamily, family, at, reason); err != nil {
		return fmt.Errorf("revoke refresh family %s: %w", family, err)
	}
	return nil
}

func (t accountTx) RevokeAccountRefresh(ctx context.Context, accountID uuid.UUID, at time.Time, reason string) error {
	if _, err := t.tx.Exec(ctx, revokeAccount, accountID, at, reason); err != nil {
		return fmt.Errorf("revoke refresh tokens of %s: %w", accountID, err)
	}
	return nil
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
