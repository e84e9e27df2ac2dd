package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/acube/platform/services/booking/internal/booking"
)

const sessionColumns = `id, email, name, phone, session_type, preferred_date, message, status,
	status_reason, status_actor, created_at, updated_at`

const (
	insertSession = `
INSERT INTO sessions (` + sessionColumns + `)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`
	// The insert blocks on a concurrent holder of the same key until it
	// commits, then finds the row: two racing submits make one booking. A
	// key older than the TTL ($4 seconds) is taken over as a new one.
	claimKey = `INSERT INTO idempotency_keys (key_digest, request_hash, session_id) VALUES ($1, $2, $3)
ON CONFLICT (key_digest) DO UPDATE SET request_hash = EXCLUDED.request_hash, session_id = EXCLUDED.session_id, created_at = now()
WHERE idempotency_keys.created_at < now() - make_interval(secs => $4)`
	lookupKey   = `SELECT request_hash, session_id FROM idempotency_keys WHERE key_digest = $1`
	purgeKeys   = `DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(secs => $1)`
	selectSess  = `SELECT ` + sessionColumns + ` FROM sessions WHERE id = $1`
	lockSession = selectSess + ` FOR UPDATE`
	listSess    = `SELECT ` + sessionColumns + ` FROM sessions`
	saveSession = `
UPDATE sessions SET status = $2, status_reason = $3, status_actor = $4, updated_at = $5 WHERE id = $1`
	insertHistory = `
INSERT INTO session_status_history (session_id, from_status, to_status, reason, actor, changed_at)
VALUES ($1, $2, $3, $4, $5, $6)`
)

func scanSession(row pgx.Row) (booking.Session, error) {
	var x booking.Session
	var typ, status string
	err := row.Scan(&x.ID, &x.Email, &x.Name, &x.Phone, &typ, &x.PreferredDate, &x.Message, &status,
		&x.StatusReason, &x.StatusActor, &x.CreatedAt, &x.UpdatedAt)
	x.SessionType, x.Status = booking.SessionType(typ), booking.Status(status)
	x.CreatedAt, x.UpdatedAt = x.CreatedAt.UTC(), x.UpdatedAt.UTC()
	return x, notFound(err)
}

// BookSession stores a new session and its events atomically, honouring
// an idempotency key by its digest.
func (s *Store) BookSession(ctx context.Context, x booking.Session, key booking.Idempotency, msgs []booking.Message) (booking.Session, bool, error) {
	var (
		stored   = x
		replayed bool
	)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, insertSession, x.ID, x.Email, x.Name, x.Phone, string(x.SessionType),
			x.PreferredDate, x.Message, string(x.Status), x.StatusReason, x.StatusActor, x.CreatedAt, x.UpdatedAt); err != nil {
			return fmt.Errorf("insert session %s: %w", x.ID, err)
		}
		if key.KeyDigest != nil {
			tag, err := tx.Exec(ctx, claimKey, key.KeyDigest, key.RequestHash, x.ID, s.cfg.IdempotencyTTL.Seconds())
			if err != nil {
				return fmt.Errorf("claim idempotency key: %w", err)
			}
			if tag.RowsAffected() == 0 {
				return errReplay
			}
		}
		return emit(ctx, tx, msgs)
	})
	if !errors.Is(err, errReplay) {
		return stored, false, err
	}
	// The key was used before: the new row rolled back; answer with the
	// first booking if the request is the same.
	var (
		hash []byte
		id   uuid.UUID
	)
	if err := s.pool.QueryRow(ctx, lookupKey, key.KeyDigest).Scan(&hash, &id); err != nil {
		return booking.Session{}, false, fmt.Errorf("look up idempotency key: %w", notFound(err))
	}
	if !bytes.Equal(hash, key.RequestHash) {
		return booking.Session{}, false, booking.ErrIdempotencyMismatch
	}
	stored, err = s.Session(ctx, id)
	replayed = err == nil
	return stored, replayed, err
}

// PurgeIdempotencyKeys deletes the keys older than the TTL, which no
// longer stand for their booking, and reports how many went.
func (s *Store) PurgeIdempotencyKeys(ctx context.Context) (int64, error) {
	tag, err := s.pool.Exec(ctx, purgeKeys, s.cfg.IdempotencyTTL.Seconds())
	if err != nil {
		return 0, fmt.Errorf("purge idempotency keys: %w", err)
	}
	return tag.RowsAffected(), nil
}

// errReplay rolls back a booking whose idempotency key was taken.
var errReplay = errors.New("idempotency key already used")

// Session returns one session.
func (s *Store) Session(ctx context.Context, id uuid.UUID) (booking.Session, error) {
	return scanSession(s.pool.QueryRow(ctx, selectSess, id))
}

// Sessions lists sessions newest first.
func (s *Store) Sessions(ctx context.Context, f booking.Filter) ([]booking.Session, error) {
	var q query
	rows, err := s.pool.Query(ctx, listSess+listing{timeCol: "created_at", desc: true}.build(&q, f, true), q.args...)
	if err != nil {
		return nil, fmt.Errorf("query sessions: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (booking.Session, error) { return scanSession(r) })
}

// UpdateSession changes a session under its row lock.
func (s *Store) UpdateSession(ctx context.Context, id uuid.UUID, fn func(*booking.Session) ([]booking.Message, error)) (booking.Session, error) {
	var out booking.Session
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = updateSession(ctx, tx, id, fn)
		return err
	})
	return out, err
}

func updateSession(ctx context.Context, tx querier, id uuid.UUID, fn func(*booking.Session) ([]booking.Message, error)) (booking.Session, error) {
	x, err := scanSession(tx.QueryRow(ctx, lockSession, id))
	if err != nil {
		return booking.Session{}, err
	}
	before := x.Status
	msgs, err := fn(&x)
	if err != nil {
		return booking.Session{}, err
	}
	if x.Status == before {
		return x, emit(ctx, tx, msgs)
	}
	if _, err := tx.Exec(ctx, saveSession, x.ID, string(x.Status), x.StatusReason, x.StatusActor, x.UpdatedAt); err != nil {
		return booking.Session{}, fmt.Errorf("save session %s: %w", x.ID, err)
	}
	if _, err := tx.Exec(ctx, insertHistory, x.ID, string(before), string(x.Status), x.StatusReason, x.StatusActor, x.UpdatedAt); err != nil {
		return booking.Session{}, fmt.Errorf("record status history of session %s: %w", x.ID, err)
	}
	return x, emit(ctx, tx, msgs)
}
