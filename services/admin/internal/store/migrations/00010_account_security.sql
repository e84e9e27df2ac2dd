-- +goose Up
-- Account security (docs/admin.md): invitations instead of passwords
-- chosen by someone else, password changes, the TOTP second factor, and
-- login sessions that are checked on every request so that ending one
-- refuses its access tokens at once.

-- An invited account has no password ('') and no activated_at until the
-- invitee sets one. Accounts that exist already chose theirs.
ALTER TABLE accounts
    ADD COLUMN activated_at        timestamptz,
    ADD COLUMN password_changed_at timestamptz,
    ADD COLUMN totp_secret         text        NOT NULL DEFAULT '',
    ADD COLUMN totp_pending        text        NOT NULL DEFAULT '',
    ADD COLUMN totp_confirmed_at   timestamptz,
    ADD COLUMN totp_last_step      bigint      NOT NULL DEFAULT 0;
UPDATE accounts SET activated_at = created_at;

-- One row per login: its id is the refresh-token family's and the access
-- tokens' sid claim.
CREATE TABLE sessions (
    id             uuid        PRIMARY KEY,
    account_id     uuid        NOT NULL REFERENCES accounts (id),
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    revoked_at     timestamptz,
    revoked_reason text        NOT NULL DEFAULT ''
);
CREATE INDEX sessions_account ON sessions (account_id) WHERE revoked_at IS NULL;
CREATE INDEX sessions_expiry ON sessions (expires_at);
-- Logins that began before sessions existed keep working until they end.
INSERT INTO sessions (id, account_id, created_at, expires_at, revoked_at, revoked_reason)
SELECT family_id, min(account_id::text)::uuid, min(created_at), max(family_expires_at),
       CASE WHEN bool_and(revoked_at IS NOT NULL) THEN max(revoked_at) END, ''
FROM refresh_tokens GROUP BY family_id;

-- Single-use invitation links, by SHA-256 of the token.
CREATE TABLE invitations (
    id         uuid        PRIMARY KEY,
    account_id uuid        NOT NULL REFERENCES accounts (id),
    token_hash bytea       NOT NULL UNIQUE,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    revoked_at timestamptz,
    created_by text        NOT NULL DEFAULT ''
);
CREATE INDEX invitations_account ON invitations (account_id);
CREATE INDEX invitations_expiry ON invitations (expires_at);

-- The second step of a login, by SHA-256 of its MFA token.
CREATE TABLE mfa_challenges (
    id         uuid        PRIMARY KEY,
    account_id uuid        NOT NULL REFERENCES accounts (id),
    token_hash bytea       NOT NULL UNIQUE,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    client_ip  text        NOT NULL DEFAULT ''
);
CREATE INDEX mfa_challenges_expiry ON mfa_challenges (expires_at);

-- Recovery codes, by SHA-256; each replaces one TOTP code once.
CREATE TABLE recovery_codes (
    account_id uuid        NOT NULL REFERENCES accounts (id),
    code_hash  bytea       NOT NULL,
    created_at timestamptz NOT NULL,
    used_at    timestamptz,
    PRIMARY KEY (account_id, code_hash)
);

-- +goose Down
DROP TABLE recovery_codes;
DROP TABLE mfa_challenges;
DROP TABLE invitations;
DROP TABLE sessions;
ALTER TABLE accounts
    DROP COLUMN totp_last_step,
    DROP COLUMN totp_confirmed_at,
    DROP COLUMN totp_pending,
    DROP COLUMN totp_secret,
    DROP COLUMN password_changed_at,
    DROP COLUMN activated_at;
