-- +goose Up
-- key names the aggregate an event belongs to (events.Event.OrderKey): the
-- relay has at most one event of a key in flight, so a partly failed batch
-- never stores a later event of a key before an earlier one. It is
-- nullable so replicas of the previous version, which do not write it, keep
-- working during a rollout; the relay reads a missing key as the row's id
-- (an aggregate of its own), which is what unsent rows get here.
--
-- A row whose publish fails for good (no stream holds its subject, a
-- permissions violation, a payload over the server's max_payload) is parked:
-- parked_at and last_error say when and why, and the rows behind it flow
-- on. failed_at is when a row first failed in a way that may still heal
-- (its stream is missing: it may be declared in a moment); such a row is
-- retried until RelayConfig.MissingStreamGrace has passed, then parked.
-- An operator releases a parked row by clearing parked_at (docs/operations.md).
ALTER TABLE outbox
    ADD COLUMN key        text,
    ADD COLUMN last_error text,
    ADD COLUMN failed_at  timestamptz,
    ADD COLUMN parked_at  timestamptz;
UPDATE outbox SET key = id::text WHERE sent_at IS NULL;
DROP INDEX outbox_unsent;
CREATE INDEX outbox_pending ON outbox (seq) WHERE sent_at IS NULL AND parked_at IS NULL;
CREATE INDEX outbox_parked ON outbox (seq) WHERE parked_at IS NOT NULL;

-- +goose Down
DROP INDEX outbox_parked;
DROP INDEX outbox_pending;
CREATE INDEX outbox_unsent ON outbox (seq) WHERE sent_at IS NULL;
ALTER TABLE outbox
    DROP COLUMN parked_at,
    DROP COLUMN failed_at,
    DROP COLUMN last_error,
    DROP COLUMN key;
