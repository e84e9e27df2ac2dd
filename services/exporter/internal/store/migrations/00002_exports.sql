-- +goose Up
-- Requested exports: the durable queue the workers claim from, and what a
-- status URL reports. A running export is held under a lease its worker's
-- heartbeat extends; when the worker dies the lease runs out and another
-- run claims it.
CREATE TABLE exports (
    id           uuid        PRIMARY KEY,
    admin_id     text        NOT NULL,
    admin_email  text        NOT NULL,
    admin_name   text        NOT NULL DEFAULT '',
    filters      jsonb       NOT NULL DEFAULT '{}',
    status       text        NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed')),
    file_name    text        NOT NULL UNIQUE,
    rows_total   bigint      NOT NULL DEFAULT 0,
    rows_written bigint      NOT NULL DEFAULT 0,
    file_size    bigint      NOT NULL DEFAULT 0,
    attempts     integer     NOT NULL DEFAULT 0,
    claim_id     uuid,
    lease_until  timestamptz,
    not_before   timestamptz NOT NULL DEFAULT now(),
    error        text        NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL,
    started_at   timestamptz,
    finished_at  timestamptz,
    expires_at   timestamptz,
    purged_at    timestamptz
);
CREATE INDEX exports_queue ON exports (not_before, created_at) WHERE status = 'queued';
CREATE INDEX exports_leases ON exports (lease_until) WHERE status = 'running';
CREATE INDEX exports_expiry ON exports (expires_at) WHERE status = 'completed' AND purged_at IS NULL;
CREATE INDEX exports_created ON exports (created_at DESC);

-- +goose Down
DROP TABLE exports;
