-- +goose Up
-- Who cancelled a registration ('registrant' through the manage link, or
-- the admin's email) and the admin's reason.
ALTER TABLE registrations
    ADD COLUMN cancelled_by  text NOT NULL DEFAULT '',
    ADD COLUMN cancel_reason text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE registrations DROP COLUMN cancelled_by, DROP COLUMN cancel_reason;
