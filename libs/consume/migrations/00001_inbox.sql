-- +goose Up
-- The ids of the events each consumer has applied, written in the same
-- transaction as the consumer's effect: a redelivered event finds its id
-- here and changes nothing, however long after JetStream's duplicate window.
CREATE TABLE consumed_events (
    consumer    text        NOT NULL,
    event_id    uuid        NOT NULL,
    consumed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

-- +goose Down
DROP TABLE consumed_events;
