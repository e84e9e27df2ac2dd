-- +goose Up
-- The role the service runs as in production (docs/admin.md): it may read
-- and write its tables but never change or remove audit rows. Migrations
-- run as the schema owner; the service logs in as a member of this role.
-- The database's bootstrap creates the role (deploy/k8s/infra/postgres/
-- bootstrap.sql), and the owner, without CREATEROLE, must not try:
-- PostgreSQL checks the right before it finds the role. A test or
-- development server without it gets it here. Roles are cluster-wide, so
-- creating it tolerates another database (or a concurrent migration)
-- having done so. (Changed after release: the role used to be created
-- unconditionally; goose never runs an applied version again.)
-- +goose StatementBegin
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'acube_admin_app') THEN
        BEGIN
            CREATE ROLE acube_admin_app NOLOGIN;
        EXCEPTION
            WHEN duplicate_object OR unique_violation THEN
                NULL;
            WHEN insufficient_privilege THEN
                RAISE EXCEPTION 'role acube_admin_app does not exist and % may not create it: run the database bootstrap (deploy/k8s/infra/postgres/bootstrap.sql) first', current_user;
        END;
    END IF;
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
