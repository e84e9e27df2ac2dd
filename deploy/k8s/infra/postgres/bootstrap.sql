-- The database's bootstrap: what only the superuser (or the database's
-- owner) may do, once, before any service migrates. CloudNativePG runs it
-- as the superuser in database acube right after initdb
-- (cluster.yaml, bootstrap.initdb.postInitApplicationSQLRefs); `make run`,
-- the tests and `make prodlike` run this same file on a local server
-- (tools/internal/stack). It is idempotent.
--
-- The model, one per service (docs/architecture.md, "Migrations"):
--   <svc>              LOGIN, owns schema <svc>: creates its tables, runs
--                      `<svc> migrate` (the pod's init container). No
--                      CREATEDB, no CREATEROLE, no CREATE on the database.
--   acube_<svc>_app    NOLOGIN group: the service's migrations grant it the
--                      use of the schema's tables and nothing more (admin's
--                      may not change or delete audit rows).
--   <svc>_app          LOGIN, only a member of acube_<svc>_app: what the
--                      service serves with (DATABASE_URL).
-- cluster.yaml's spec.managed.roles declares the same roles with their
-- LOGIN and passwords; CloudNativePG creates managed roles only after this
-- file has run, so the roles this file names are created here first
-- (without LOGIN, which the managed roles then give).

DO $$
DECLARE
    svc text;
    r text;
BEGIN
    FOREACH svc IN ARRAY ARRAY['booking', 'admin', 'mailer', 'exporter'] LOOP
        FOREACH r IN ARRAY ARRAY[svc, 'acube_' || svc || '_app', svc || '_app'] LOOP
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
                BEGIN
                    EXECUTE format('CREATE ROLE %I NOLOGIN', r);
                EXCEPTION WHEN duplicate_object OR unique_violation THEN
                    NULL; -- created meanwhile by another bootstrap of this server
                END;
            END IF;
            -- Whatever made the role: it creates no databases or roles.
            EXECUTE format('ALTER ROLE %I NOSUPERUSER NOCREATEDB NOCREATEROLE', r);
        END LOOP;
        EXECUTE format('GRANT %I TO %I', 'acube_' || svc || '_app', svc || '_app');
        EXECUTE format('CREATE SCHEMA IF NOT EXISTS %I AUTHORIZATION %I', svc, svc);
    END LOOP;
END
$$;

-- Nobody but the database's owner creates objects outside the services'
-- schemas (PostgreSQL 15 and later already keep PUBLIC out of schema public).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
