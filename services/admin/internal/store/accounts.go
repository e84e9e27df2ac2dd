package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/keyset"
	"github.com/acube/platform/services/admin/internal/account"
)

// Accounts is the PostgreSQL implementation of account.Store.
type Accounts struct {
	pool *pgxpool.Pool
}

// NewAccounts returns the account store over pool (search path: admin).
func NewAccounts(pool *pgxpool.Pool) *Accounts { return &Accounts{pool: pool} }

// InTx runs fn in one transaction.
func (s *Accounts) InTx(ctx context.Context, fn func(account.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return fn(accountTx{tx}) })
}

const (
	accountCols = `id, email, name, role, password_hash, created_at, created_by, disabled_at, activated_at,
password_changed_at, totp_secret, totp_pending, totp_confirmed_at, totp_last_step`
	listAccounts = `SELECT ` + accountCols + ` FROM accounts
WHERE $1::timestamptz IS NULL OR (created_at, id) > ($1, $2) ORDER BY created_at, id LIMIT $3`
	accountByMail = `SELECT ` + accountCols + ` FROM accounts WHERE email = $1`
	accountByID   = `SELECT ` + accountCols + ` FROM accounts WHERE id = $1 FOR UPDATE`
	countAccounts = `SELECT count(*) FROM accounts`
	insertAccount = `INSERT INTO accounts (` + accountCols + `)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`
	setHash     = `UPDATE accounts SET password_hash = $2 WHERE id = $1`
	setPassword = `
UPDATE accounts SET password_hash = $2, password_changed_at = $3, activated_at = COALESCE(activated_at, $3)
WHERE id = $1`
	setTOTP = `
UPDATE accounts SET totp_secret = $2, totp_pending = $3, totp_confirmed_at = $4, totp_last_step = $5 WHERE id = $1`
	disable = `UPDATE accounts SET disabled_at = $2 WHERE id = $1 AND disabled_at IS NULL`
)

func scanAccount(row pgx.Row) (account.Account, error) {
	var a account.Account
	err := row.Scan(&a.ID, &a.Email, &a.Name, &a.Role, &a.PasswordHash, &a.CreatedAt, &a.CreatedBy, &a.DisabledAt,
		&a.ActivatedAt, &a.PasswordChangedAt, &a.TOTPSecret, &a.TOTPPending, &a.TOTPConfirmedAt, &a.TOTPLastStep)
	if errors.Is(err, pgx.ErrNoRows) {
		return account.Account{}, account.ErrNotFound
	}
	if err != nil {
		return account.Account{}, fmt.Errorf("read account: %w", err)
	}
	return a, nil
}

// List returns up to limit accounts after the cursor, oldest first.
func (s *Accounts) List(ctx context.Context, after *keyset.Cursor, limit int) ([]account.Account, error) {
	var (
		at *time.Time
		id *uuid.UUID
	)
	if after != nil {
		at, id = &after.At, &after.ID
	}
	rows, err := s.pool.Query(ctx, listAccounts, at, id, limit)
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (account.Account, error) { return scanAccount(r) })
}

// AccountByEmail finds an account by its normalized email.
func (s *Accounts) AccountByEmail(ctx context.Context, email string) (account.Account, error) {
	return scanAccount(s.pool.QueryRow(ctx, accountByMail, email))
}

type accountTx struct{ tx pgx.Tx }

func (t accountTx) CountAccounts(ctx context.Context) (int, error) {
	var n int
	if err := t.tx.QueryRow(ctx, countAccounts).Scan(&n); err != nil {
		return 0, fmt.Errorf("count accounts: %w", err)
	}
	return n, nil
}

func (t accountTx) AccountByID(ctx context.Context, id uuid.UUID) (account.Account, error) {
	return scanAccount(t.tx.QueryRow(ctx, accountByID, id))
}

func (t accountTx) InsertAccount(ctx context.Context, a account.Account) error {
	_, err := t.tx.Exec(ctx, insertAccount, a.ID, a.Email, a.Name, a.Role, a.PasswordHash, a.CreatedAt, a.CreatedBy,
		a.DisabledAt, a.ActivatedAt, a.PasswordChangedAt, a.TOTPSecret, a.TOTPPending, a.TOTPConfirmedAt, a.TOTPLastStep)
	if isUniqueViolation(err) {
		return account.ErrEmailTaken
	}
	if err != nil {
		return fmt.Errorf("insert account: %w", err)
	}
	return nil
}

func (t accountTx) SetPasswordHash(ctx context.Context, id uuid.UUID, hash string) error {
	if _, err := t.tx.Exec(ctx, setHash, id, hash); err != nil {
		return fmt.Errorf("update password hash of %s: %w", id, err)
	}
	return nil
}

func (t accountTx) SetPassword(ctx context.Context, id uuid.UUID, hash string, at time.Time) error {
	if _, err := t.tx.Exec(ctx, setPassword, id, hash, at); err != nil {
		return fmt.Errorf("set password of %s: %w", id, err)
	}
	return nil
}

func (t accountTx) SetTOTP(ctx context.Context, a account.Account) error {
	if _, err := t.tx.Exec(ctx, setTOTP, a.ID, a.TOTPSecret, a.TOTPPending, a.TOTPConfirmedAt, a.TOTPLastStep); err != nil {
		return fmt.Errorf("set TOTP of %s: %w", a.ID, err)
	}
	return nil
}

func (t accountTx) Disable(ctx context.Context, id uuid.UUID, at time.Time) error {
	if _, err := t.tx.Exec(ctx, disable, id, at); err != nil {
		return fmt.Errorf("disable account %s: %w", id, err)
	}
	return nil
}

func (t accountTx) Emit(ctx context.Context, ev events.Event) error { return emit(ctx, t.tx, ev) }
