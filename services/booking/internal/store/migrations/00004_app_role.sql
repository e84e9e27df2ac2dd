-- +goose Up
-- The service serves as booking_app, a login that is nothing but a member of
-- acube_booking_app, and migrates as the schema's owner (docs/architecture.md,
-- "Migrations"). acube_booking_app may use every table and sequence of the schema,
-- and by default those that later migrations create, the shared libraries'
-- (outbox, consumed_events) included; it may create or alter nothing.
-- libs/postgres leaves it SELECT only on goose's version tables, which the
-- serving process reads to check that the schema is migrated.
--
-- The database's bootstrap creates acube_booking_app
-- (deploy/k8s/infra/postgres/bootstrap.sql); a test or development server
-- without it gets it here, which only a role with CREATEROLE may do.
-- Default privileges apply to what the role running this creates: the
-- schema owner, as every migration must be run.
-- +goose StatementBegin
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'acube_booking_app') THEN
        BEGIN
            CREATE ROLE acube_booking_app NOLOGIN;
        EXCEPTION
            WHEN duplicate_object OR unique_violation THEN
                NULL;
            WHEN insufficient_privilege THEN
                RAISE EXCEPTION 'role acube_booking_app does not exist and % may not create it: run the database bootstrap (deploy/k8s/infra/postgres/bootstrap.sql) first', current_user;
        END;
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO acube_booking_app', current_schema());
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO acube_booking_app', current_schema());
    EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO acube_booking_app', current_schema());
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO acube_booking_app', current_schema());
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT USAGE, SELECT ON SEQUENCES TO acube_booking_app', current_schema());
END
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DO $$
BEGIN
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I REVOKE USAGE, SELECT ON SEQUENCES FROM acube_booking_app', current_schema());
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM acube_booking_app', current_schema());
    EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA %I FROM acube_booking_app', current_schema());
    EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM acube_booking_app', current_schema());
    EXECUTE format('REVOKE USAGE ON SCHEMA %I FROM acube_booking_app', current_schema());
END
$$;
-- +goose StatementEnd
