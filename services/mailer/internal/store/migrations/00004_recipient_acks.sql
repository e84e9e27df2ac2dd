-- +goose Up
-- The acknowledgements each recipient got in the last window
-- (MAILER_ACK_LIMIT), so a public form cannot mail one address without
-- bound (docs/events/mailer.md, "Recipient limits"). One row per
-- recipient, keyed by the SHA-256 of the lower-cased address, not the
-- address: the row serialises the replicas' claims for that recipient.
-- event_ids and claimed_at are parallel arrays, oldest first, of the events
-- allowed an email; a redelivered event finds its id and is not counted
-- again. The hourly purge deletes rows untouched for a whole window.
CREATE TABLE recipient_acks (
    recipient  bytea         PRIMARY KEY,
    event_ids  uuid[]        NOT NULL,
    claimed_at timestamptz[] NOT NULL,
    updated_at timestamptz   NOT NULL
);
CREATE INDEX recipient_acks_updated_at ON recipient_acks (updated_at);

-- +goose Down
DROP TABLE recipient_acks;
