// Package chaos drives a mixed load through the running platform while it
// breaks one part at a time — SIGKILLs a service, stops NATS, Redis or
// PostgreSQL, slows SMTP, takes DEADLETTER away, scales to two replicas,
// writes a poison outbox row — then checks that nothing accepted was lost,
// applied twice or applied out of its aggregate's order: every accepted
// request stored once, every expected email received once (by
// Message-ID) and in order, every refused email dead-lettered once, every
// bulk job and export finished, no event over capacity. `make chaos`
// (tools/cmd/chaos) runs it against a stack of its own; tools/e2e runs a
// short variant in `make test`.
package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// Fault is one thing that goes wrong, and how it is put right.
type Fault struct {
	// Name labels the scenario in the report, e.g. "kill-booking".
	Name string
	// Break injects the fault.
	Break func(ctx context.Context) error
	// Heal ends it: restarts what was stopped. The recovery time counts
	// from the moment Heal is called.
	Heal func(ctx context.Context) error
	// Hold is how long the fault lasts before Heal.
	Hold time.Duration
	// MailerKill marks a fault that kills the mailer: inside its documented
	// crash window (docs/events/mailer.md) an email may be sent again with
	// the same Message-ID. Such resends are reported, not hidden.
	MailerKill bool
	// NoRefusals marks a fault that stops nothing that answers requests
	// (the gateway and the services behind it keep running): a refused
	// request is then a fault of the system and fails the run.
	NoRefusals bool
	// RejectEvery, when positive, addresses every RejectEvery-th request
	// of the load that sends an email to RejectDomain, whose recipients
	// the SMTP side refuses with a 550: each such email must end in
	// DEADLETTER, not in the mailbox.
	RejectEvery int
	// Lifecycle has the scenario's admin confirm and then cancel each
	// accepted booking at once (PATCH /api/sessions/{id}/status), so that
	// its three emails — booked, confirmed, cancelled — must arrive in
	// that order.
	Lifecycle bool
	// Check, when set, reports what the fault's own expectations find
	// wrong (e.g. a poison row not parked). It is called on every round of
	// the final wait, so it may report what has not happened yet.
	Check func(ctx context.Context) []string
}

// unmetError is an expectation the system did not meet during Break or
// Heal.
type unmetError struct{ err error }

func (e unmetError) Error() string { return e.err.Error() }
func (e unmetError) Unwrap() error { return e.err }

// Unmet marks an error of Break or Heal as an expectation the system did
// not meet (say, a service that did not become ready while NATS was
// down), not as a failure of the run's own machinery: the scenario goes
// on, and its row counts the error under "unmet".
func Unmet(err error) error {
	if err == nil {
		return nil
	}
	return unmetError{err}
}

// Config bounds a run.
type Config struct {
	// Rate is requests per second of the load.
	Rate float64
	// Requests is how many requests each scenario sends at least; more
	// when the fault lasts longer, so the load outlasts it by Tail.
	Requests int
	// Lead is how long the load runs before the fault.
	Lead time.Duration
	// Tail is how long the load goes on at least after the fault ends.
	Tail time.Duration
	// RecoverWithin bounds the wait for the probe after a fault.
	RecoverWithin time.Duration
	// SettleWithin bounds the wait for every effect at the end.
	SettleWithin time.Duration
	// SuperEmail and SuperPassword are the bootstrapped superadmin's (its
	// TOTP secret is given to the Client with SetTOTP). The run's
	// scenario admins choose SuperPassword too when they accept their
	// invitations, so it must pass the password rules for them as well
	// (name "Chaos admin", email admin.<scenario>@chaos.test);
	// adminflow.RandomPassword does.
	SuperEmail, SuperPassword string
	// Progress receives one line per step; nil discards them.
	Progress io.Writer
}

func (c *Config) setDefaults() {
	if c.Rate <= 0 {
		c.Rate = 20
	}
	if c.Requests <= 0 {
		c.Requests = 400
	}
	if c.Lead <= 0 {
		c.Lead = 5 * time.Second
	}
	if c.Tail <= 0 {
		c.Tail = 10 * time.Second
	}
	if c.RecoverWithin <= 0 {
		c.RecoverWithin = 2 * time.Minute
	}
	if c.SettleWithin <= 0 {
		c.SettleWithin = 3 * time.Minute
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
}

// Validate reports a config that cannot run.
func (c *Config) Validate() error {
	if c.SuperEmail == "" || c.SuperPassword == "" {
		return errors.New("chaos: SuperEmail and SuperPassword are required")
	}
	return nil
}

// Target is the running system a run drives.
type Target struct {
	// Client reaches the gateway and the services.
	Client *Client
	// Mail is where the system's emails land.
	Mail Mailbox
	// Arrivals, when set, lists the emails in the order the SMTP sink
	// accepted them (SMTPProxy.Arrivals): the per-aggregate order check
	// of Lifecycle scenarios reads it.
	Arrivals func() []Arrival
}

// runner holds one run's state.
type runner struct {
	cfg    Config
	client *Client
	mail   Mailbox
	// arrivals is Target.Arrivals.
	arrivals func() []Arrival
}

func (r *runner) say(format string, args ...any) {
	fmt.Fprintf(r.cfg.Progress, "chaos | "+format+"\n", args...)
}

// Run plays each fault as a scenario under load, one after another, then
// waits for the system to settle and checks every accepted request. Faults
// are injected and healed on the calling goroutine.
func Run(ctx context.Context, cfg Config, t Target, faults []Fault) (Report, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return Report{}, err
	}
	r := &runner{cfg: cfg, client: t.Client, mail: t.Mail, arrivals: t.Arrivals}
	// The superadmin's token is asked of the client each time it is
	// needed: the client logs in once (password and TOTP code) and
	// refreshes the token from then on, so it outlives a long run.
	super, err := retry(ctx, time.Minute, func() (string, error) {
		return r.client.login(ctx, cfg.SuperEmail, cfg.SuperPassword)
	})
	if err != nil {
		return Report{}, err
	}

	// One admin per scenario, invited (and the invitation accepted)
	// before any fault, so each scenario's job and export emails can be
	// told apart.
	scs := make([]*scenario, len(faults))
	for i, f := range faults {
		sc := &scenario{name: f.Name, admin: "admin." + f.Name + "@chaos.test", mailerKill: f.MailerKill,
			noRefusals: f.NoRefusals, rejectEvery: f.RejectEvery, lifecycle: f.Lifecycle, check: f.Check}
		if err := r.client.createAdmin(ctx, r.mail, super, sc.admin, cfg.SuperPassword); err != nil {
			return Report{}, err
		}
		scs[i] = sc
	}
	for i, f := range faults {
		if err := r.scenario(ctx, scs[i], f); err != nil {
			return Report{}, fmt.Errorf("scenario %s: %w", f.Name, err)
		}
	}
	r.say("all scenarios done; waiting up to %s for every effect", cfg.SettleWithin)
	return r.verify(ctx, scs)
}

// scenario runs the load, injects the fault after Lead, heals it after
// Hold, measures the recovery and waits for the load to end.
func (r *runner) scenario(ctx context.Context, sc *scenario, f Fault) error {
	var err error
	if sc.token, err = retry(ctx, time.Minute, func() (string, error) {
		return r.client.login(ctx, sc.admin, r.cfg.SuperPassword)
	}); err != nil {
		return err
	}
	sc.capacity = max(1, r.cfg.Requests/10)
	if sc.eventID, err = retry(ctx, time.Minute, func() (string, error) {
		super, err := r.client.login(ctx, r.cfg.SuperEmail, r.cfg.SuperPassword)
		if err != nil {
			return "", err
		}
		return r.client.createEvent(ctx, super, "Chaos "+sc.name, sc.capacity)
	}); err != nil {
		return err
	}
	interval := time.Duration(float64(time.Second) / r.cfg.Rate)
	// The load outlasts the fault by Tail at least, so requests meet the
	// system while it breaks, while it is broken and while it recovers.
	n := max(r.cfg.Requests, int(r.cfg.Rate*(r.cfg.Lead+f.Hold+r.cfg.Tail).Seconds()))
	r.say("%s: %d requests at %.0f/s", sc.name, n, r.cfg.Rate)
	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		r.load(ctx, sc, n, interval, r.cfg.Tail)
	}()

	select {
	case <-ctx.Done():
		<-loadDone
		return ctx.Err()
	case <-time.After(r.cfg.Lead):
	}
	r.say("%s: break", sc.name)
	if err := f.Break(ctx); err != nil {
		if !sc.unmetBy("break", err) {
			sc.healAt(time.Now().Add(-r.cfg.Tail)) // no heal comes: end the load at n
			<-loadDone
			return fmt.Errorf("break: %w", err)
		}
		r.say("%s: break: %v", sc.name, err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(f.Hold):
	}
	r.say("%s: heal", sc.name)
	healed := time.Now()
	sc.healAt(healed)
	hctx, cancel := context.WithTimeout(ctx, r.cfg.RecoverWithin)
	herr := f.Heal(hctx)
	cancel()
	if herr != nil {
		if !sc.unmetBy("heal", herr) {
			<-loadDone
			return fmt.Errorf("heal: %w", herr)
		}
		r.say("%s: heal: %v", sc.name, herr)
	}
	r.probe(ctx, sc, healed)
	<-loadDone
	if sc.recovered {
		r.say("%s: recovered in %s", sc.name, sc.recovery.Round(10*time.Millisecond))
	} else {
		r.say("%s: no probe email within %s", sc.name, r.cfg.RecoverWithin)
	}
	return nil
}

// probe books a session (one Idempotency-Key, retried) until it is
// accepted and then waits for its email: the system works end to end
// again. The time from healed is the scenario's recovery time.
func (r *runner) probe(ctx context.Context, sc *scenario, healed time.Time) {
	req := &request{kind: kindSession, email: "probe." + sc.name + "@chaos.test"}
	defer sc.add(req)
	ctx, cancel := context.WithDeadline(ctx, healed.Add(r.cfg.RecoverWithin))
	defer cancel()
	for ctx.Err() == nil {
		if !req.accepted {
			a := r.book(ctx, req.email, "probe-"+sc.name)
			req.outcome = a.String()
			if a.ok() {
				req.id, req.accepted = idOf(a), true
			}
		}
		if req.accepted {
			if got, err := r.mail.To(ctx, req.email); err == nil && len(got) > 0 {
				sc.recovered, sc.recovery = true, time.Since(healed)
				return
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// retry calls f until it succeeds or within has passed.
func retry[T any](ctx context.Context, within time.Duration, f func() (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	for {
		v, err := f()
		if err == nil {
			return v, nil
		}
		select {
		case <-ctx.Done():
			return v, err
		case <-time.After(500 * time.Millisecond):
		}
	}
}
