-- +goose Up
-- Why an admin last changed a volunteer application's or contact
-- message's status, as sessions keep it (status_reason): the API takes
-- an optional reason on both (issue 14), and the admins reading the list
-- see it there, not only in the audit log.
ALTER TABLE volunteers ADD COLUMN status_reason text NOT NULL DEFAULT '';
ALTER TABLE contacts ADD COLUMN status_reason text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE volunteers DROP COLUMN status_reason;
ALTER TABLE contacts DROP COLUMN status_reason;
