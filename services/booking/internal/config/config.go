// Package config is booking's configuration, read once from the environment.
package config

import (
	"time"

	libconfig "github.com/acube/platform/libs/config"
)

// Config is every setting of the booking service.
type Config struct {
	Addr           string        `env:"BOOKING_ADDR" default:":8101" doc:"HTTP listen address"`
	DatabaseURL    string        `env:"DATABASE_URL" default:"postgres://postgres@127.0.0.1:5432/acube?sslmode=disable" secret:"true" doc:"PostgreSQL URL; the database is created if missing"`
	DBMaxConns     int32         `env:"BOOKING_DB_MAX_CONNS" default:"16" doc:"connection pool size"`
	NATSURL        string        `env:"NATS_URL" default:"nats://127.0.0.1:4222" doc:"NATS server with JetStream"`
	StreamReplicas int           `env:"STREAM_REPLICAS" default:"1" doc:"JetStream replicas of the streams this service owns"`
	LogLevel       string        `env:"LOG_LEVEL" default:"info" doc:"debug, info, warn or error"`
	ShutdownGrace  time.Duration `env:"SHUTDOWN_GRACE" default:"20s" doc:"how long in-flight requests may finish on SIGTERM"`
}

// Load reads the configuration.
func Load(getenv libconfig.Getenv) (Config, error) {
	var c Config
	err := libconfig.Load(getenv, &c)
	return c, err
}
