-- +goose Up
-- The hourly purge deletes by age (MAILER_DELIVERY_RETENTION).
CREATE INDEX deliveries_sent_at ON deliveries (sent_at);

-- +goose Down
DROP INDEX deliveries_sent_at;
