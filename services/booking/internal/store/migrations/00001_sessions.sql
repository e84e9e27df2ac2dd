-- +goose Up
CREATE TABLE sessions (
    id             uuid        PRIMARY KEY,
    email          text        NOT NULL,
    name           text        NOT NULL,
    phone          text        NOT NULL,
    session_type   text        NOT NULL CHECK (session_type IN ('individual', 'couple', 'family', 'group')),
    preferred_date date        NOT NULL,
    message        text        NOT NULL DEFAULT '',
    status         text        NOT NULL DEFAULT 'pending'
                               CHECK (status IN ('pending', 'confirmed', 'completed', 'cancelled')),
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);
CREATE INDEX sessions_created ON sessions (created_at, id);

-- +goose Down
DROP TABLE sessions;
