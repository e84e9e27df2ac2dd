-- +goose Up
-- The role the service runs as in production (docs/admin.md): it may read
-- and write its tables but never change or remove audit rows. Migrations
-- run as the schema owner; the service logs in as a member of this role.
-- Roles are cluster-wide, so creating it tolerates another database (or a
-- concurrent migration) having done so.
-- +goose StatementBegin
DO $$
BEGIN
    CREATE ROLE acube_admin_app NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;
-- +goose StatementEnd
-- +goose StatementBegin
DO $$
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO acube_admin_app', current_schema());
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO acube_admin_app', current_schema());
    EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO acube_admin_app', current_schema());
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO acube_admin_app', current_schema());
END
$$;
-- +goose StatementEnd
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM acube_admin_app, PUBLIC;

-- +goose Down
-- +goose StatementBegin
DO $$
BEGIN
    EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM acube_admin_app', current_schema());
    EXECUTE format('REVOKE ALL ON SCHEMA %I FROM acube_admin_app', current_schema());
END
$$;
-- +goose StatementEnd
