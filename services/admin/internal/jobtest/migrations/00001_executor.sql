-- +goose Up
-- The stand-in owner's rows: applied counts how often a change hit a row,
-- so a test can prove nothing was applied twice.
CREATE TABLE items (
    id      uuid    PRIMARY KEY,
    entity  text    NOT NULL,
    status  text    NOT NULL DEFAULT 'pending',
    deleted boolean NOT NULL DEFAULT false,
    applied integer NOT NULL DEFAULT 0
);

-- Jobs received, with the checkpoint: the next chunk to apply.
CREATE TABLE exec_jobs (
    job_id     uuid    PRIMARY KEY,
    entity     text    NOT NULL,
    action     text    NOT NULL,
    status     text    NOT NULL,
    ids        text[]  NOT NULL,
    next_chunk integer NOT NULL DEFAULT 0,
    chunks     integer NOT NULL,
    done       boolean NOT NULL DEFAULT false,
    succeeded  integer NOT NULL DEFAULT 0,
    failed     integer NOT NULL DEFAULT 0
);

-- +goose Down
DROP TABLE exec_jobs;
DROP TABLE items;
