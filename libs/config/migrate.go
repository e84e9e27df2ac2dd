package config

import "errors"

// Migrate is what a service's `migrate` subcommand reads: the schema
// owner's URL, which the serving process never reads (it logs in as the
// service's app role with DATABASE_URL), and the log level. A service's
// config package wraps it, so the README's table names the service.
type Migrate struct {
	Base
	DatabaseURL string `env:"MIGRATE_DATABASE_URL" secret:"true" doc:"PostgreSQL URL of the service's schema owner, read only by '<service> migrate' (and the exporter's rebuild-audit); the serving process logs in with DATABASE_URL, its app role"`
}

// Validate reports the settings of m that cannot work.
func (m Migrate) Validate() error {
	errs := []error{m.Base.Validate()}
	if m.DatabaseURL == "" {
		errs = append(errs, errors.New("config: MIGRATE_DATABASE_URL must be set: the schema owner's URL"))
	}
	return errors.Join(errs...)
}
