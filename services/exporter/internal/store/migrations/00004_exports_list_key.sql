-- +goose Up
-- The export list is keyset-paged on (created_at, id), newest first
-- (store.listExports): an index in that order serves every page with a
-- range scan, ties included.
CREATE INDEX exports_list ON exports (created_at DESC, id DESC);
DROP INDEX exports_created;

-- +goose Down
CREATE INDEX exports_created ON exports (created_at DESC);
DROP INDEX exports_list;
