-- +goose Up
-- The audit log: one row per audit.<entity>.<action> event of any service,
-- keyed by the event id. Append-only by construction: a trigger refuses
-- UPDATE, DELETE and TRUNCATE for every role, superusers included, and the
-- application role is granted only SELECT and INSERT on it.
CREATE TABLE audit_log (
    id          uuid        PRIMARY KEY,
    source      text        NOT NULL,
    actor_id    text        NOT NULL DEFAULT '',
    actor_email text        NOT NULL DEFAULT '',
    action      text        NOT NULL,
    entity      text        NOT NULL,
    entity_id   text        NOT NULL DEFAULT '',
    client_ip   text        NOT NULL DEFAULT '',
    changes     jsonb,
    occurred_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_time ON audit_log (occurred_at DESC, id DESC);
CREATE INDEX audit_log_actor ON audit_log (actor_id, occurred_at DESC, id DESC);
CREATE INDEX audit_log_actor_email ON audit_log (actor_email, occurred_at DESC, id DESC);
CREATE INDEX audit_log_entity ON audit_log (entity, entity_id, occurred_at DESC, id DESC);
CREATE INDEX audit_log_action ON audit_log (action, occurred_at DESC, id DESC);

-- +goose StatementBegin
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
-- +goose StatementEnd
CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- +goose Down
DROP TABLE audit_log;
DROP FUNCTION audit_log_append_only();
