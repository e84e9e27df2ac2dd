-- +goose Up
-- The serving process checks at start that the schema carries every
-- migration its binary has (libs/postgres CheckMigrated), so
-- acube_admin_app reads goose's version tables, which 00005 closed to it.
-- It still never writes them: libs/postgres leaves every role but the
-- owner SELECT at most on them, after every migrate step.
-- +goose StatementBegin
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT c.relname
        FROM pg_class c
        WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
          AND c.relname LIKE 'goose\_%'
          AND c.relkind IN ('r', 'p')
    LOOP
        EXECUTE format('GRANT SELECT ON TABLE %I TO acube_admin_app', r.relname);
    END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT c.relname
        FROM pg_class c
        WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
          AND c.relname LIKE 'goose\_%'
          AND c.relkind IN ('r', 'p')
    LOOP
        EXECUTE format('REVOKE SELECT ON TABLE %I FROM acube_admin_app', r.relname);
    END LOOP;
END
$$;
-- +goose StatementEnd
