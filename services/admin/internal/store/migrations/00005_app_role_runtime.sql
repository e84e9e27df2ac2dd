-- +goose Up
-- The service now serves as acube_admin_app (ADMIN_DB_ROLE, every pooled
-- connection takes it), so the role must be able to do everything the
-- service does at run time, and nothing migrations alone should do:
--
-- - tables: DML on every table of the schema (00004, and its default
--   privileges for tables created later, including those of the shared
--   libraries' migration sets: outbox, consumed_events), except UPDATE,
--   DELETE and TRUNCATE on audit_log;
-- - sequences: USAGE, SELECT (nextval for outbox.seq), now also by default
--   for sequences created later, which 00004 did not declare;
-- - goose's version tables (goose_<set>, and their id sequences): none.
--   Only migrations, run as the owner, touch them. A migration set added
--   later gets its version table with the default privileges above:
--   revoke them again in the admin migration that comes with it (the test
--   TestIntegrationAppRolePrivileges fails until then).
--
-- LISTEN/NOTIFY, pg_notify and advisory locks need no grant. Default
-- privileges apply to objects created by the role running this migration,
-- the schema owner, as every migration must be run.
-- +goose StatementBegin
DO $$
DECLARE
    r record;
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO acube_admin_app', current_schema());
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO acube_admin_app', current_schema());
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT USAGE, SELECT ON SEQUENCES TO acube_admin_app', current_schema());
    EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO acube_admin_app', current_schema());
    FOR r IN
        SELECT c.relname, c.relkind
        FROM pg_class c
        WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
          AND c.relname LIKE 'goose\_%'
          AND c.relkind IN ('r', 'p', 'S')
    LOOP
        IF r.relkind = 'S' THEN
            EXECUTE format('REVOKE ALL ON SEQUENCE %I FROM acube_admin_app', r.relname);
        ELSE
            EXECUTE format('REVOKE ALL ON TABLE %I FROM acube_admin_app', r.relname);
        END IF;
    END LOOP;
END
$$;
-- +goose StatementEnd
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM acube_admin_app, PUBLIC;

-- +goose Down
-- +goose StatementBegin
DO $$
DECLARE
    r record;
BEGIN
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I REVOKE USAGE, SELECT ON SEQUENCES FROM acube_admin_app', current_schema());
    FOR r IN
        SELECT c.relname, c.relkind
        FROM pg_class c
        WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
          AND c.relname LIKE 'goose\_%'
          AND c.relkind IN ('r', 'p', 'S')
    LOOP
        IF r.relkind = 'S' THEN
            EXECUTE format('GRANT USAGE, SELECT ON SEQUENCE %I TO acube_admin_app', r.relname);
        ELSE
            EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE %I TO acube_admin_app', r.relname);
        END IF;
    END LOOP;
END
$$;
-- +goose StatementEnd
