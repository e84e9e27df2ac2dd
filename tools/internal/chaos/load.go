package chaos

import (
	"context"
	"fmt"
	"net/http"
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
}

// scenario is one fault under load, and everything its requests did.
type scenario struct {
	name       string
	admin      string // this scenario's admin: jobs and exports email it
	token      string // its access token
	eventID    string
	capacity   int
	mailerKill bool // the fault may resend inside the mailer's crash window

	mu       sync.Mutex
	reqs     []*request
	unjobbed []string // accepted contact ids no job has taken yet

	recovered bool
	recovery  time.Duration
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

// load sends n requests at one per interval, at most 32 in flight.
func (r *runner) load(ctx context.Context, sc *scenario, n int, interval time.Duration) {
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for i := range n {
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
		a = r.book(ctx, req.email, fmt.Sprintf("%s-%d", sc.name, i))
	case kindRegistration:
		req.email = address(sc.name, k, i)
		a = r.client.do(ctx, http.MethodPost, gw+"/api/events/"+sc.eventID+"/register", "",
			map[string]string{"email": req.email, "name": "Chaos Reg"}, nil)
	case kindVolunteer:
		req.email = address(sc.name, k, i)
		a = r.client.do(ctx, http.MethodPost, gw+"/api/volunteers", "",
			map[string]string{"email": req.email, "name": "Chaos Vol", "interests": "chaos"}, nil)
	case kindContact:
		req.email = address(sc.name, k, i)
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
	return req
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
