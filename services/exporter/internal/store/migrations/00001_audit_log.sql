-- +goose Up
-- The exporter's projection of the AUDIT stream: one row per audit event,
-- keyed by the event id so a replay inserts nothing twice. It is rebuilt
-- by replaying the stream (exporter rebuild-audit), never edited by hand.
CREATE TABLE audit_log (
    event_id    uuid        PRIMARY KEY,
    occurred_at timestamptz NOT NULL,
    actor_id    text        NOT NULL DEFAULT '',
    actor_email text        NOT NULL DEFAULT '',
    action      text        NOT NULL,
    entity      text        NOT NULL,
    entity_id   text        NOT NULL DEFAULT '',
    client_ip   text        NOT NULL DEFAULT '',
    changes     jsonb       NOT NULL DEFAULT '{}'
);
-- Exports read in time order; the filters narrow by admin, action, entity.
CREATE INDEX audit_log_time ON audit_log (occurred_at, event_id);
CREATE INDEX audit_log_actor_id ON audit_log (actor_id, occurred_at);
CREATE INDEX audit_log_actor_email ON audit_log (lower(actor_email), occurred_at);

-- +goose Down
DROP TABLE audit_log;
