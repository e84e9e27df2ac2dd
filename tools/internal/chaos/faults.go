package chaos

import (
	"context"
	"time"
)

// KillService is a crash: SIGKILL the service, leave it down for hold,
// start it again (healed once it is ready).
func KillService(s *Services, name string, hold time.Duration) Fault {
	return Fault{
		Name:       "kill-" + name,
		Break:      func(context.Context) error { return s.Kill(name) },
		Heal:       func(ctx context.Context) error { return s.Respawn(ctx, name) },
		Hold:       hold,
		MailerKill: name == "mailer",
	}
}

// StopNATS is a NATS outage: shut the server down for hold, then start it
// again on the same port and store.
func StopNATS(n *NATS, hold time.Duration) Fault {
	return Fault{
		Name:  "nats-down",
		Break: func(context.Context) error { n.Shutdown(); return nil },
		Heal:  func(context.Context) error { return n.Restart() },
		Hold:  hold,
	}
}

// StopRedis kills Redis for hold and starts it again, empty.
func StopRedis(r *Redis, hold time.Duration) Fault {
	return Fault{
		Name:  "redis-down",
		Break: func(context.Context) error { r.Kill(); return nil },
		Heal:  r.Restart,
		Hold:  hold,
	}
}

// RestartPostgres crashes PostgreSQL (immediate stop: every connection
// cut, crash recovery on start) and starts it again after hold.
func RestartPostgres(pg *Postgres, hold time.Duration) Fault {
	return Fault{
		Name:  "postgres-restart",
		Break: pg.Crash,
		Heal:  pg.Start,
		Hold:  hold,
	}
}
