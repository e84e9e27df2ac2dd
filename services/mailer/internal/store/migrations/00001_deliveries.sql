-- +goose Up
-- One row per email the mailer sent: the event it was about and the
-- recipient key it, so an event is mailed once per recipient however often
-- it is delivered. The row is written right after the server accepted the
-- email, in the consumer's group commit with the event id, so a row means
-- sent (see docs/events/mailer.md).
CREATE TABLE deliveries (
    event_id      uuid        NOT NULL,
    recipient     text        NOT NULL, -- the address, lower-cased
    event_type    text        NOT NULL,
    template      text        NOT NULL,
    message_id    text        NOT NULL,
    sent_at       timestamptz NOT NULL,
    PRIMARY KEY (event_id, recipient)
);

-- +goose Down
DROP TABLE deliveries;
