package chaos

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// kind is what a request asked for; each leaves its own effect to check.
type kind string

const (
	kindSession      kind = "session"
	kindRegistration kind = "registration"
	kindVolunteer    kind = "volunteer"
	kindContact      kind = "contact"
	kindJob          kind = "job"
	kindExport       kind = "export"
)

// request is one logical request of the load and what became of it.
type request struct {
	kind kind
	// email is the submitter's unique address (sessions, registrations,
	// volunteers, contact messages), the key its effects are found by.
	email string
	// ids are the contact messages a job moves to "read".
	ids []string
	// id is what the service answered with when it accepted the request.
	id       string
	accepted bool
	// outcome is the last answer, for the report.
	outcome string
	// marked says email is at RejectDomain: its email must be refused by
	// the SMTP side and end in DEADLETTER.
	marked bool
	// steps are the status changes an admin made to an accepted booking
	// in a Lifecycle scenario, in order.
	steps []step
}

// step is one status change of a booking (PATCH /api/sessions/{id}/status)
// and what became of it.
type step struct {
	status   string
	accepted bool
	outcome  string
}

// scenario is one fault under load, and everything its requests did.
type scenario struct {
	name       string
	admin      string // this scenario's admin: jobs and exports email it
	token      string // its access token
	eventID    string
	capacity   int
	mailerKill bool // the fault may resend inside the mailer's crash window
	noRefusals bool // the fault stops nothing that answers: refusals fail the run
	// rejectEvery addresses every n-th emailing request to RejectDomain.
	rejectEvery int
	lifecycle   bool // accepted bookings are confirmed, then cancelled
	check       func(context.Context) []string

	mu       sync.Mutex
	reqs     []*request
	unjobbed []string // accepted contact ids no job has taken yet

	recovered bool
	recovery  time.Duration
	// unmet are the errors of Break or Heal marked Unmet.
	unmet []string
	// healed is when Heal was called; zero before.
	healed time.Time
}

// healAt records when the fault ended.
func (sc *scenario) healAt(t time.Time) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.healed = t
}

// tailDone reports whether tail has passed since the fault ended.
func (sc *scenario) tailDone(tail time.Duration) bool {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return !sc.healed.IsZero() && time.Since(sc.healed) >= tail
}

// unmetBy records err when it is Unmet and reports whether it was.
func (sc *scenario) unmetBy(phase string, err error) bool {
	var u unmetError
	if !errors.As(err, &u) {
		return false
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.unmet = append(sc.unmet, phase+": "+err.Error())
	return true
}

func (sc *scenario) add(r *request) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.reqs = append(sc.reqs, r)
	if r.kind == kindContact && r.accepted {
		sc.unjobbed = append(sc.unjobbed, r.id)
	}
}

// takeContacts removes up to n contact ids for a job.
func (sc *scenario) takeContacts(n int) []string {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	n = min(n, len(sc.unjobbed))
	ids := append([]string(nil), sc.unjobbed[:n]...)
	sc.unjobbed = sc.unjobbed[n:]
	return ids
}

// pick chooses the kind of the i-th request: mostly public forms, a bulk
// job every 50th, an audit export every 100th.
func pick(i int) kind {
	switch {
	case i%50 == 49:
		return kindJob
	case i%100 == 74:
		return kindExport
	}
	return [10]kind{kindSession, kindSession, kindSession, kindRegistration, kindRegistration,
		kindVolunteer, kindContact, kindContact, kindSession, kindRegistration}[i%10]
}

// address is the unique recipient of a scenario's i-th request.
func address(scenario string, k kind, i int) string {
	return fmt.Sprintf("%s.%s.%d@chaos.test", scenario, k, i)
}

// mark readdresses req to RejectDomain when the scenario rejects every
// n-th request and this is one.
func (sc *scenario) mark(req *request, i int) {
	if sc.rejectEvery <= 0 || i%sc.rejectEvery != sc.rejectEvery-1 {
		return
	}
	local, _, _ := strings.Cut(req.email, "@")
	req.email, req.marked = local+"@"+RejectDomain, true
}

// load sends n requests at one per interval, at most 32 in flight, and
// goes on past n until tail has passed since the fault was healed: a
// fault whose Break takes long (restarting every service) still meets
// load after it ends.
func (r *runner) load(ctx context.Context, sc *scenario, n int, interval, tail time.Duration) {
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for i := 0; i < n || !sc.tailDone(tail); i++ {
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-tick.C:
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return
		}
		wg.Go(func() {
			defer func() { <-sem }()
			sc.add(r.send(ctx, sc, pick(i), i))
		})
	}
	wg.Wait()
}

// send makes one request of kind k and records its outcome.
func (r *runner) send(ctx context.Context, sc *scenario, k kind, i int) *request {
	req := &request{kind: k}
	var a answer
	gw := r.client.gateway
	switch k {
	case kindSession:
		req.email = address(sc.name, k, i)
		sc.mark(req, i)
		a = r.book(ctx, req.email, fmt.Sprintf("%s-%d", sc.name, i))
	case kindRegistration:
		req.email = address(sc.name, k, i)
		sc.mark(req, i)
		a = r.client.do(ctx, http.MethodPost, gw+"/api/events/"+sc.eventID+"/register", "",
			map[string]string{"email": req.email, "name": "Chaos Reg"}, nil)
	case kindVolunteer:
		req.email = address(sc.name, k, i)
		sc.mark(req, i)
		a = r.client.do(ctx, http.MethodPost, gw+"/api/volunteers", "",
			map[string]string{"email": req.email, "name": "Chaos Vol", "interests": "chaos"}, nil)
	case kindContact:
		req.email = address(sc.name, k, i)
		sc.mark(req, i)
		a = r.client.do(ctx, http.MethodPost, gw+"/api/contact", "",
			map[string]string{"email": req.email, "name": "Chaos Contact", "subject": "hi", "message": "chaos"}, nil)
	case kindJob:
		req.ids = sc.takeContacts(20)
		if len(req.ids) == 0 {
			return r.send(ctx, sc, kindContact, i)
		}
		a = r.client.do(ctx, http.MethodPost, gw+"/api/admin/bulk/status-update", sc.token,
			map[string]any{"entity": "contact", "ids": req.ids, "status": "read"}, nil)
	case kindExport:
		a = r.client.do(ctx, http.MethodPost, gw+"/api/admin/bulk/export/audit-logs", sc.token,
			map[string]string{"admin": sc.admin}, nil)
	}
	req.outcome = a.String()
	if a.ok() {
		req.id = idOf(a)
		req.accepted = req.id != ""
	}
	if k == kindSession && req.accepted && sc.lifecycle {
		r.lifecycle(ctx, sc, req)
	}
	return req
}

// lifecycle has the scenario's admin confirm and then cancel an accepted
// booking, each change resubmitted (twice at most) when it failed for
// want of a service. It stops at the first change not accepted: what
// follows would not be a legal move, or its order would prove nothing.
func (r *runner) lifecycle(ctx context.Context, sc *scenario, req *request) {
	for _, status := range []string{"confirmed", "cancelled"} {
		st := step{status: status}
		for attempt := range 3 {
			if attempt > 0 {
				select {
				case <-ctx.Done():
					req.steps = append(req.steps, st)
					return
				case <-time.After(time.Second):
				}
			}
			a := r.client.do(ctx, http.MethodPatch, r.client.gateway+"/api/sessions/"+req.id+"/status", sc.token,
				map[string]string{"status": status, "reason": "chaos"}, nil)
			// A 4xx after a refused attempt says nothing new: the refused
			// attempt may have committed the change, so the step stays
			// refused (unknown) rather than rejected.
			if attempt == 0 || a.ok() || a.err != nil || a.status >= 500 {
				st.outcome, st.accepted = a.String(), a.ok()
			}
			if a.err == nil && a.status < 500 {
				break
			}
		}
		req.steps = append(req.steps, st)
		if !st.accepted {
			return
		}
	}
}

// book books a session with an Idempotency-Key and retries, with the same
// key, an attempt that failed for want of a service (a connection error or
// a 5xx): a form that resubmits, and the key makes it one booking.
func (r *runner) book(ctx context.Context, email, key string) answer {
	body := map[string]string{"email": email, "name": "Chaos Booker", "phone": "1234567890", "session_type": "individual",
		"preferred_date": time.Now().UTC().AddDate(0, 1, 0).Format(time.DateOnly), "message": "chaos"}
	var a answer
	for attempt := range 3 {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return a
			case <-time.After(time.Second):
			}
		}
		a = r.client.do(ctx, http.MethodPost, r.client.gateway+"/api/sessions/book", "", body,
			map[string]string{"Idempotency-Key": key})
		if a.err == nil && a.status < 500 {
			return a
		}
	}
	return a
}
