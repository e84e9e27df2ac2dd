// Package migrations lists exporter's migration sets: the one list that
// `exporter migrate` applies, the serving process checks (postgres.OpenMigrated)
// and the tests clone their databases from (pgtest.NewMigrated,
// pgtest.NewMigratedService).
package migrations

import (
	"github.com/acube/platform/libs/consume"
	"github.com/acube/platform/libs/outbox"
	"github.com/acube/platform/libs/postgres"
	"github.com/acube/platform/services/exporter/internal/store"
)

// Sets returns exporter's migration sets in the order they are applied:
// the outbox's table, the consumers' inbox, then the exporter's own tables.
func Sets() []postgres.Migrations {
	return []postgres.Migrations{outbox.Migrations(), consume.Migrations(), store.Migrations()}
}
