-- +goose Up
-- Why and by whom a session's status last moved; the full trail is in
-- session_status_history.
ALTER TABLE sessions
    ADD COLUMN status_reason text NOT NULL DEFAULT '',
    ADD COLUMN status_actor  text NOT NULL DEFAULT '';
CREATE INDEX sessions_status_created ON sessions (status, created_at, id);

CREATE TABLE session_status_history (
    seq         bigserial   PRIMARY KEY,
    session_id  uuid        NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    from_status text        NOT NULL,
    to_status   text        NOT NULL,
    reason      text        NOT NULL,
    actor       text        NOT NULL,
    changed_at  timestamptz NOT NULL
);
CREATE INDEX session_status_history_session ON session_status_history (session_id, seq);

-- Idempotency-Key of a booking: a repeat with the same key and request
-- returns the same session; the hash tells a repeat from a different
-- request under a reused key.
CREATE TABLE idempotency_keys (
    key          text        PRIMARY KEY,
    request_hash bytea       NOT NULL,
    session_id   uuid        NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- confirmed counts the seats taken. It only changes under the event's row
-- lock, and the CHECK makes overbooking impossible even for a bug.
CREATE TABLE events (
    id          uuid        PRIMARY KEY,
    title       text        NOT NULL,
    description text        NOT NULL DEFAULT '',
    location    text        NOT NULL DEFAULT '',
    starts_at   timestamptz NOT NULL,
    ends_at     timestamptz NOT NULL,
    capacity    integer     NOT NULL CHECK (capacity > 0),
    confirmed   integer     NOT NULL DEFAULT 0 CHECK (confirmed >= 0 AND confirmed <= capacity),
    image_type  text        NOT NULL DEFAULT '',
    image_size  bigint      NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    CHECK (ends_at > starts_at)
);
CREATE INDEX events_start ON events (starts_at, id);
CREATE INDEX events_created ON events (created_at, id);

-- seq orders the waitlist: first come, first promoted.
CREATE TABLE registrations (
    seq        bigserial   NOT NULL UNIQUE,
    id         uuid        PRIMARY KEY,
    event_id   uuid        NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    email      text        NOT NULL,
    name       text        NOT NULL,
    phone      text        NOT NULL DEFAULT '',
    status     text        NOT NULL CHECK (status IN ('confirmed', 'waitlisted', 'cancelled')),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
-- One live registration per address and event; after a cancellation the
-- address may register again.
CREATE UNIQUE INDEX registrations_one_per_email ON registrations (event_id, lower(email)) WHERE status <> 'cancelled';
CREATE INDEX registrations_waitlist ON registrations (event_id, seq) WHERE status = 'waitlisted';
CREATE INDEX registrations_event ON registrations (event_id, created_at, id);

CREATE TABLE volunteers (
    id           uuid        PRIMARY KEY,
    email        text        NOT NULL,
    name         text        NOT NULL,
    phone        text        NOT NULL DEFAULT '',
    interests    text        NOT NULL DEFAULT '',
    availability text        NOT NULL DEFAULT '',
    message      text        NOT NULL DEFAULT '',
    status       text        NOT NULL CHECK (status IN ('pending', 'reviewing', 'approved', 'rejected')),
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);
CREATE INDEX volunteers_created ON volunteers (created_at, id);
CREATE INDEX volunteers_status_created ON volunteers (status, created_at, id);

CREATE TABLE contacts (
    id         uuid        PRIMARY KEY,
    email      text        NOT NULL,
    name       text        NOT NULL,
    phone      text        NOT NULL DEFAULT '',
    subject    text        NOT NULL DEFAULT '',
    message    text        NOT NULL,
    status     text        NOT NULL CHECK (status IN ('new', 'read', 'replied', 'archived')),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX contacts_created ON contacts (created_at, id);
CREATE INDEX contacts_status_created ON contacts (status, created_at, id);

-- The cursor of each bulk job: chunks before next_chunk are committed, with
-- their progress events; finished_at is set with the completion event.
CREATE TABLE bulk_jobs (
    job_id      uuid        PRIMARY KEY,
    next_chunk  integer     NOT NULL DEFAULT 0,
    processed   integer     NOT NULL DEFAULT 0,
    succeeded   integer     NOT NULL DEFAULT 0,
    failed      integer     NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);

-- +goose Down
DROP TABLE bulk_jobs;
DROP TABLE contacts;
DROP TABLE volunteers;
DROP TABLE registrations;
DROP TABLE events;
DROP TABLE idempotency_keys;
DROP TABLE session_status_history;
DROP INDEX sessions_status_created;
ALTER TABLE sessions DROP COLUMN status_reason, DROP COLUMN status_actor;
