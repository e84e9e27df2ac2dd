// Package migrations lists booking's migration sets: the one list that
// `booking migrate` applies, the serving process checks (postgres.OpenMigrated)
// and the tests clone their databases from (pgtest.NewMigrated,
// pgtest.NewMigratedService).
package migrations

import (
	"github.com/acube/platform/libs/consume"
	"github.com/acube/platform/libs/outbox"
	"github.com/acube/platform/libs/postgres"
	"github.com/acube/platform/services/booking/internal/store"
)

// Sets returns booking's migration sets in the order they are applied:
// the outbox's table, the consumers' inbox, then booking's own tables.
func Sets() []postgres.Migrations {
	return []postgres.Migrations{outbox.Migrations(), consume.Migrations(), store.Migrations()}
}
