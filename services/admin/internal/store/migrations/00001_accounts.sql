-- +goose Up
-- Admin accounts. Emails are stored lower-cased; the password hash is a
-- PHC argon2id string carrying its own parameters.
CREATE TABLE accounts (
    id            uuid        PRIMARY KEY,
    email         text        NOT NULL UNIQUE,
    name          text        NOT NULL,
    role          text        NOT NULL CHECK (role IN ('superadmin', 'admin')),
    password_hash text        NOT NULL,
    created_at    timestamptz NOT NULL,
    created_by    text        NOT NULL DEFAULT '',
    disabled_at   timestamptz
);

-- Refresh tokens, stored by SHA-256 hash only. One login is one family;
-- every use spends a token and adds its successor to the family.
CREATE TABLE refresh_tokens (
    id                uuid        PRIMARY KEY,
    family_id         uuid        NOT NULL,
    account_id        uuid        NOT NULL REFERENCES accounts (id),
    token_hash        bytea       NOT NULL UNIQUE,
    created_at        timestamptz NOT NULL,
    expires_at        timestamptz NOT NULL,
    family_expires_at timestamptz NOT NULL,
    used_at           timestamptz,
    replaced_by       uuid,
    revoked_at        timestamptz,
    revoked_reason    text        NOT NULL DEFAULT ''
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_account ON refresh_tokens (account_id) WHERE revoked_at IS NULL;
CREATE INDEX refresh_tokens_expiry ON refresh_tokens (family_expires_at);

-- Login back-off counters, by throttle key (per account and client, and
-- per account). Keys exist for unknown emails too, so throttling reveals
-- nothing about which accounts exist.
CREATE TABLE login_throttle (
    key          text        PRIMARY KEY,
    failures     integer     NOT NULL DEFAULT 0,
    last_at      timestamptz,
    locked_until timestamptz
);

-- Client addresses that logged in to an account; they are exempt from the
-- account-wide back-off, so an attacker elsewhere cannot lock the owner out.
CREATE TABLE known_clients (
    account_id      uuid        NOT NULL REFERENCES accounts (id),
    client_ip       text        NOT NULL,
    last_success_at timestamptz NOT NULL,
    PRIMARY KEY (account_id, client_ip)
);

-- +goose Down
DROP TABLE known_clients;
DROP TABLE login_throttle;
DROP TABLE refresh_tokens;
DROP TABLE accounts;
