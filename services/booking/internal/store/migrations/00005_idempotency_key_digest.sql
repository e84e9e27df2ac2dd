-- +goose Up
-- An Idempotency-Key counts only for the client and route that sent it,
-- and is kept as SHA-256 over route, client address and key
-- (booking.IdempotencyKey.Digest), never as sent: a key someone else
-- learns or guesses finds nothing of theirs, and a reader of this table
-- finds no key to replay (issue 13, finding 6). The keys stored before
-- had no client and cannot be scoped, so they go: a form resubmitted
-- across the upgrade may book twice, which an admin can cancel.
DELETE FROM idempotency_keys;
ALTER TABLE idempotency_keys DROP COLUMN key;
ALTER TABLE idempotency_keys
    ADD COLUMN key_digest bytea PRIMARY KEY CHECK (length(key_digest) = 32);

-- +goose Down
DELETE FROM idempotency_keys;
ALTER TABLE idempotency_keys DROP COLUMN key_digest;
ALTER TABLE idempotency_keys ADD COLUMN key text PRIMARY KEY;
