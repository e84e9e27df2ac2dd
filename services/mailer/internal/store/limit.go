package store

import (
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Limit caps the acknowledgements one recipient gets: at most Max per
// sliding Window. A zero Max means no cap.
type Limit struct {
	Max    int
	Window time.Duration
}

// claimAck keeps, in the recipient's row, the claims younger than the
// window and adds this event's unless it is there already or the window
// is full; it answers whether the event holds a claim. The row lock of
// ON CONFLICT DO UPDATE serialises concurrent claims for one recipient,
// from any replica, and its update sees the latest committed row.
const claimAck = `INSERT INTO recipient_acks AS r (recipient, event_ids, claimed_at, updated_at)
VALUES ($1, ARRAY[$2::uuid], ARRAY[now()], now())
ON CONFLICT (recipient) DO UPDATE SET (event_ids, claimed_at, updated_at) = (
    SELECT k.ids || CASE WHEN $2 = ANY(k.ids) OR cardinality(k.ids) >= $3 THEN '{}'::uuid[] ELSE ARRAY[$2::uuid] END,
           k.ats || CASE WHEN $2 = ANY(k.ids) OR cardinality(k.ids) >= $3 THEN '{}'::timestamptz[] ELSE ARRAY[now()] END,
           now()
    FROM (SELECT coalesce(array_agg(u.id ORDER BY u.at), '{}') AS ids, coalesce(array_agg(u.at ORDER BY u.at), '{}') AS ats
          FROM unnest(r.event_ids, r.claimed_at) AS u(id, at)
          WHERE u.at > now() - make_interval(secs => $4)) AS k)
RETURNING $2 = ANY(r.event_ids)`

const purgeAcks = `DELETE FROM recipient_acks WHERE updated_at < now() - make_interval(secs => $1)`

// ClaimAck counts an acknowledgement of eventID to recipient against l and
// reports whether it may be sent. It is one statement, in its own
// transaction, before the send: a claim stays when the send then fails,
// and the redelivery of the event finds it and is allowed without
// counting again. A refused event is not recorded; a later delivery is
// judged afresh.
func ClaimAck(ctx context.Context, pool *pgxpool.Pool, recipient string, eventID uuid.UUID, l Limit) (bool, error) {
	if l.Max <= 0 {
		return true, nil
	}
	var ok bool
	if err := pool.QueryRow(ctx, claimAck, RecipientHash(recipient), eventID, l.Max, l.Window.Seconds()).Scan(&ok); err != nil {
		return false, fmt.Errorf("claim an acknowledgement for event %s: %w", eventID, err)
	}
	return ok, nil
}

// PurgeAcks deletes the claims of recipients that got no acknowledgement
// for window and reports how many went.
func PurgeAcks(ctx context.Context, pool *pgxpool.Pool, window time.Duration) (int64, error) {
	tag, err := pool.Exec(ctx, purgeAcks, window.Seconds())
	if err != nil {
		return 0, fmt.Errorf("purge acknowledgement claims: %w", err)
	}
	return tag.RowsAffected(), nil
}

// RecipientHash is how recipient_acks names a recipient: the SHA-256 of
// its Key, so the table holds no address.
func RecipientHash(recipient string) []byte {
	sum := sha256.Sum256([]byte(Key(recipient)))
	return sum[:]
}
