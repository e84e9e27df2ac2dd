// Package migrations lists mailer's migration sets: the one list that
// `mailer migrate` applies, the serving process checks (postgres.OpenMigrated)
// and the tests clone their databases from (pgtest.NewMigrated,
// pgtest.NewMigratedService).
package migrations

import (
	"github.com/acube/platform/libs/consume"
	"github.com/acube/platform/libs/postgres"
	"github.com/acube/platform/services/mailer/internal/store"
)

// Sets returns mailer's migration sets in the order they are applied:
// the consumers' inbox, then the mailer's own tables (it publishes no events, so it has no outbox).
func Sets() []postgres.Migrations {
	return []postgres.Migrations{consume.Migrations(), store.Migrations()}
}
