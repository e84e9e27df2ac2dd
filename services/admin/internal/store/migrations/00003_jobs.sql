-- +goose Up
-- Bulk jobs as the admin service tracks them; the owner of the entity
-- does the work and reports per chunk.
CREATE TABLE jobs (
    id                 uuid        PRIMARY KEY,
    entity             text        NOT NULL,
    action             text        NOT NULL,
    status             text        NOT NULL DEFAULT '',
    state              text        NOT NULL,
    total              integer     NOT NULL,
    processed          integer     NOT NULL DEFAULT 0,
    succeeded          integer     NOT NULL DEFAULT 0,
    failed             integer     NOT NULL DEFAULT 0,
    not_found          integer     NOT NULL DEFAULT 0,
    chunks             integer     NOT NULL DEFAULT 0,
    chunks_done        integer     NOT NULL DEFAULT 0,
    reported           boolean     NOT NULL DEFAULT false,
    error              text        NOT NULL DEFAULT '',
    requested_by_id    text        NOT NULL,
    requested_by_email text        NOT NULL,
    requested_by_name  text        NOT NULL DEFAULT '',
    client_ip          text        NOT NULL DEFAULT '',
    ids                text[]      NOT NULL,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    completed_at       timestamptz
);

-- One row per chunk report: the primary key makes a repeated report a no-op.
CREATE TABLE job_chunks (
    job_id        uuid        NOT NULL REFERENCES jobs (id),
    chunk         integer     NOT NULL,
    processed     integer     NOT NULL,
    succeeded     integer     NOT NULL,
    failed        integer     NOT NULL,
    not_found_ids text[]      NOT NULL,
    failures      jsonb       NOT NULL,
    recorded_at   timestamptz NOT NULL,
    PRIMARY KEY (job_id, chunk)
);

-- +goose Down
DROP TABLE job_chunks;
DROP TABLE jobs;
