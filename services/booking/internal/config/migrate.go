package config

import libconfig "github.com/acube/platform/libs/config"

// Migrate is the configuration of `booking migrate`, which applies the
// schema's migrations as its owner and exits. Nothing else reads it: the
// serving process never holds the owner's credentials.
type Migrate struct {
	libconfig.Migrate
}

// LoadMigrate reads and checks the migrate step's configuration.
func LoadMigrate(lookup libconfig.LookupEnv) (Migrate, error) {
	return libconfig.LoadChecked[Migrate](lookup)
}
