package chaos

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/acube/platform/libs/consume"
	"github.com/acube/platform/tools/internal/stack"
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
func StopNATS(n *stack.NATS, hold time.Duration) Fault {
	return Fault{
		Name:  "nats-down",
		Break: func(context.Context) error { n.Shutdown(); return nil },
		Heal:  func(context.Context) error { return n.Restart() },
		Hold:  hold,
		// The outbox holds the events: NATS down never fails a request.
		NoRefusals: true,
	}
}

// StopRedis kills Redis for hold and starts it again, empty.
func StopRedis(r *Redis, hold time.Duration) Fault {
	return Fault{
		Name:  "redis-down",
		Break: func(context.Context) error { r.Kill(); return nil },
		Heal:  r.Restart,
		Hold:  hold,
		// The gateway limits in process meanwhile.
		NoRefusals: true,
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

// SlowSMTP makes the SMTP side slow for hold: every SMTP command the
// mailer sends meanwhile waits delay before the proxy relays it — chosen
// past the mailer's handler deadline, so no send started in the fault can
// finish inside its deadline. A command whose client gives up first is
// dropped, never relayed: the sink gets no email the mailer was not told
// about, so a correct mailer sends each email once. The runs start the
// mailer with MailerEnv, so that its per-command SMTP timeout does not
// end a send before the handler deadline does.
func SlowSMTP(p *SMTPProxy, delay, hold time.Duration) Fault {
	return Fault{
		Name:       "slow-smtp",
		Break:      func(context.Context) error { p.Slow(delay); return nil },
		Heal:       func(context.Context) error { p.Slow(0); return nil },
		Hold:       hold,
		NoRefusals: true,
	}
}

// DeadLetterOutage makes DEADLETTER unavailable for hold while handlers
// fail permanently: every 7th request of the load that sends an email is
// addressed to RejectDomain, whose recipients the SMTP proxy refuses with
// a 550. The stream is made unavailable by updating its config to capture
// another subject (its stored messages stay), and restored to its own
// config at heal; each refused email must be in DEADLETTER afterwards.
func DeadLetterOutage(natsURL string, hold time.Duration) Fault {
	var (
		nc    *nats.Conn
		saved jetstream.StreamConfig
	)
	return Fault{
		Name: "deadletter-outage",
		Break: func(ctx context.Context) error {
			var err error
			if nc, err = nats.Connect(natsURL, nats.Name("chaos")); err != nil {
				return fmt.Errorf("connect to nats: %w", err)
			}
			js, err := jetstream.New(nc)
			if err != nil {
				return fmt.Errorf("jetstream: %w", err)
			}
			s, err := js.Stream(ctx, consume.DeadLetterStream)
			if err != nil {
				return fmt.Errorf("find %s: %w", consume.DeadLetterStream, err)
			}
			saved = s.CachedInfo().Config
			paused := saved
			paused.Subjects = []string{"chaos-paused.deadletter.>"}
			if _, err := js.UpdateStream(ctx, paused); err != nil {
				return fmt.Errorf("pause %s: %w", consume.DeadLetterStream, err)
			}
			return nil
		},
		Heal: func(ctx context.Context) error {
			defer nc.Close()
			js, err := jetstream.New(nc)
			if err != nil {
				return fmt.Errorf("jetstream: %w", err)
			}
			if _, err := js.UpdateStream(ctx, saved); err != nil {
				return fmt.Errorf("restore %s: %w", consume.DeadLetterStream, err)
			}
			return nil
		},
		Hold:        hold,
		NoRefusals:  true,
		RejectEvery: 7,
	}
}

// NATSDownAtStart stops every service, then NATS, and starts the services
// again while NATS is down: they must come up and serve (DESIGN §1: NATS
// down never keeps a service from being ready), and accept bookings,
// whose emails go out once NATS is back after hold. Requests are refused
// while the services are stopped; a service that does not come up is an
// unmet expectation.
func NATSDownAtStart(s *Services, n *stack.NATS, hold time.Duration) Fault {
	return Fault{
		Name: "nats-down-at-start",
		Break: func(ctx context.Context) error {
			var errs []error
			if err := s.Stop(); err != nil {
				errs = append(errs, fmt.Errorf("stop the services: %w", err))
			}
			n.Shutdown()
			sctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			if err := s.StartAll(sctx); err != nil {
				errs = append(errs, fmt.Errorf("start the services while NATS is down: %w", err))
			}
			return Unmet(errors.Join(errs...))
		},
		// A service that exited while NATS was down is started again once
		// it is back, as a supervisor would, so the run goes on; the
		// exit is already counted by Break.
		Heal: func(ctx context.Context) error {
			if err := n.Restart(); err != nil {
				return err
			}
			if err := s.StartAll(ctx); err != nil {
				return Unmet(fmt.Errorf("services not ready after NATS came back: %w", err))
			}
			return nil
		},
		Hold: hold,
	}
}

// TwoRelays runs booking and admin — each with its outbox relay — and the
// mailer as two replicas each for hold, then scales them back to one
// (graceful stops). Meanwhile the scenario's admin confirms and cancels
// every booking at once, so each booking's three events are written
// milliseconds apart and race through two relays and two mailers; their
// emails must still arrive in order (DESIGN §4).
func TwoRelays(s *Services, hold time.Duration) Fault {
	scaled := []string{"booking", "admin", "mailer"}
	scale := func(ctx context.Context, n int) error {
		var errs []error
		for _, name := range scaled {
			if err := s.Scale(ctx, name, n); err != nil {
				errs = append(errs, err)
			}
		}
		return Unmet(errors.Join(errs...))
	}
	return Fault{
		Name:       "two-relays",
		Break:      func(ctx context.Context) error { return scale(ctx, 2) },
		Heal:       func(ctx context.Context) error { return scale(ctx, 1) },
		Hold:       hold,
		NoRefusals: true,
		Lifecycle:  true,
	}
}

// MailerEnv is the mailer's environment in a chaos run: SMTP_TIMEOUT (15 s
// by default) above any delay SlowSMTP uses, so that a slow server meets
// the handler's deadline (the consumers' 30 s AckWait) rather than the
// client's per-command timeout, which would hide it.
func MailerEnv() []string { return []string{"SMTP_TIMEOUT=2m"} }

// LiftedLimits is the gateway's environment in a chaos run: every
// rate-limit tier far above the load, so the gateway refuses nothing the
// run sends while the limiter still counts in Redis.
func LiftedLimits() []string { return limitsEnv() }
