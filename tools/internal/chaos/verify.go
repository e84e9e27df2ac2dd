package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// state is what the system holds after a run, as its APIs and the mailbox
// show it.
type state struct {
	sessions, volunteers, contacts map[string]int // rows per submitter address
	contactStatus                  map[string]string
	regs                           map[string]map[string]int // event id → address → rows
	confirmed                      map[string]int            // event id → confirmed registrations
	jobs                           map[string]jobState
	exports                        map[string]string         // export id → status
	mails                          map[string]map[string]int // recipient → Message-ID → copies
	subjects                       map[string]string         // Message-ID → subject
	sessionStatus                  map[string]string         // booker address → the booking's status
	// deadLetters counts, per address at RejectDomain, the dead letters
	// whose event names it.
	deadLetters map[string]int
	// arrivals are the emails in arrival order (Target.Arrivals), nil
	// when the run records none.
	arrivals []Arrival
	// checks are the problems each scenario's Fault.Check reports.
	checks map[string][]string
}

// newState returns an empty state.
func newState() *state {
	return &state{
		sessions: map[string]int{}, volunteers: map[string]int{}, contacts: map[string]int{},
		contactStatus: map[string]string{}, regs: map[string]map[string]int{}, confirmed: map[string]int{},
		jobs: map[string]jobState{}, exports: map[string]string{},
		mails: map[string]map[string]int{}, subjects: map[string]string{},
		sessionStatus: map[string]string{}, deadLetters: map[string]int{}, checks: map[string][]string{},
	}
}

// pending counts what may still come: missing effects and the problems
// the faults' own checks report.
func (st *state) pending(rep Report) int {
	n := rep.lost()
	for _, p := range st.checks {
		n += len(p)
	}
	return n
}

// jobState is the part of GET /api/admin/jobs/{id} the checks read.
type jobState struct {
	State     string `json:"state"`
	Succeeded int    `json:"succeeded"`
}

// verify waits up to SettleWithin for every accepted request's effects,
// then checks once more after the mailer had time to resend anything its
// crash window lets through, and reports.
func (r *runner) verify(ctx context.Context, scs []*scenario) (Report, error) {
	deadline := time.Now().Add(r.cfg.SettleWithin)
	var rep Report
	for {
		st, err := r.collect(ctx, scs)
		if err != nil {
			if time.Now().After(deadline) {
				return Report{}, err
			}
			r.say("collect: %v", err)
		} else {
			rep = check(r.cfg.SuperEmail, scs, st)
			if st.pending(rep) == 0 || time.Now().After(deadline) {
				break
			}
			r.say("waiting: %d effects still missing, %d checks unmet", rep.lost(), st.pending(rep)-rep.lost())
		}
		select {
		case <-ctx.Done():
			return rep, ctx.Err()
		case <-time.After(3 * time.Second):
		}
	}
	// Redeliveries come after the consumers' ack wait: look once more.
	select {
	case <-ctx.Done():
		return rep, ctx.Err()
	case <-time.After(5 * time.Second):
	}
	st, err := r.collect(ctx, scs)
	if err != nil {
		return rep, err
	}
	return check(r.cfg.SuperEmail, scs, st), nil
}

// collect reads every list, job, export and email the checks need.
func (r *runner) collect(ctx context.Context, scs []*scenario) (*state, error) {
	tok, err := r.client.login(ctx, r.cfg.SuperEmail, r.cfg.SuperPassword)
	if err != nil {
		return nil, err
	}
	st := newState()
	type row struct {
		ID, Email, Status string
	}
	count := func(m map[string]int, also func(row)) func(json.RawMessage) error {
		return func(raw json.RawMessage) error {
			var v row
			if err := json.Unmarshal(raw, &v); err != nil {
				return fmt.Errorf("decode row: %w", err)
			}
			m[strings.ToLower(v.Email)]++
			if also != nil {
				also(v)
			}
			return nil
		}
	}
	if err := r.client.list(ctx, tok, "booking", "/api/sessions", count(st.sessions, func(v row) {
		st.sessionStatus[strings.ToLower(v.Email)] = v.Status
	})); err != nil {
		return nil, err
	}
	if err := r.client.list(ctx, tok, "booking", "/api/volunteers", count(st.volunteers, nil)); err != nil {
		return nil, err
	}
	if err := r.client.list(ctx, tok, "booking", "/api/contact", count(st.contacts, func(v row) { st.contactStatus[v.ID] = v.Status })); err != nil {
		return nil, err
	}
	for _, sc := range scs {
		regs := map[string]int{}
		err := r.client.list(ctx, tok, "booking", "/api/events/"+sc.eventID+"/registrations", count(regs, func(v row) {
			if v.Status == "confirmed" {
				st.confirmed[sc.eventID]++
			}
		}))
		if err != nil {
			return nil, err
		}
		st.regs[sc.eventID] = regs
		for _, q := range sc.reqs {
			if !q.accepted {
				continue
			}
			switch q.kind {
			case kindJob:
				var j jobState
				if err := r.client.do(ctx, http.MethodGet, r.client.direct["admin"]+"/api/admin/jobs/"+q.id, tok, nil, nil).decode(&j); err != nil {
					return nil, fmt.Errorf("job %s: %w", q.id, err)
				}
				st.jobs[q.id] = j
			case kindExport:
				a := r.client.do(ctx, http.MethodGet, r.client.direct["exporter"]+"/api/admin/exports/"+q.id, tok, nil, nil)
				var e struct {
					Status string `json:"status"`
				}
				switch {
				case a.status == http.StatusGone:
					st.exports[q.id] = "failed"
				case a.decode(&e) == nil:
					st.exports[q.id] = e.Status
				default:
					return nil, fmt.Errorf("export %s: %s", q.id, a)
				}
			}
		}
	}
	for _, sc := range scs {
		if sc.rejectEvery > 0 {
			if err := r.collectDeadLetters(ctx, tok, st); err != nil {
				return nil, err
			}
			break
		}
	}
	for _, sc := range scs {
		if sc.check != nil {
			st.checks[sc.name] = sc.check(ctx)
		}
	}
	if r.arrivals != nil {
		st.arrivals = r.arrivals()
	}
	mails, err := r.mail.All(ctx)
	if err != nil {
		return nil, err
	}
	for _, m := range mails {
		st.subjects[m.MessageID] = m.Subject
		for _, to := range m.To {
			if st.mails[to] == nil {
				st.mails[to] = map[string]int{}
			}
			st.mails[to][m.MessageID]++
		}
	}
	return st, nil
}

// rejected matches an address at RejectDomain inside an event.
var rejected = regexp.MustCompile(`[a-z0-9._+-]+@` + regexp.QuoteMeta(RejectDomain))

// collectDeadLetters counts, per address at RejectDomain, the dead letters
// of the mailer whose event names it, through the admin API (GET
// /api/admin/dead-letters, then each letter for its event).
func (r *runner) collectDeadLetters(ctx context.Context, tok string, st *state) error {
	base := r.client.direct["admin"] + "/api/admin/dead-letters"
	var cursor string
	for range 10_000 {
		u := base + "?limit=200"
		if cursor != "" {
			u += "&cursor=" + url.QueryEscape(cursor)
		}
		var page struct {
			Items []struct {
				Seq      uint64 `json:"seq"`
				Consumer string `json:"consumer"`
			} `json:"items"`
			NextCursor string `json:"next_cursor"`
		}
		if err := r.client.do(ctx, http.MethodGet, u, tok, nil, nil).decode(&page); err != nil {
			return fmt.Errorf("list dead letters: %w", err)
		}
		for _, it := range page.Items {
			if !strings.HasPrefix(it.Consumer, "mailer") {
				continue
			}
			var l struct {
				Event json.RawMessage `json:"event"`
			}
			seq := strconv.FormatUint(it.Seq, 10)
			if err := r.client.do(ctx, http.MethodGet, base+"/"+seq, tok, nil, nil).decode(&l); err != nil {
				return fmt.Errorf("dead letter %s: %w", seq, err)
			}
			seen := map[string]bool{}
			for _, addr := range rejected.FindAllString(strings.ToLower(string(l.Event)), -1) {
				if !seen[addr] {
					seen[addr] = true
					st.deadLetters[addr]++
				}
			}
		}
		if page.NextCursor == "" || len(page.Items) == 0 {
			return nil
		}
		cursor = page.NextCursor
	}
	return errors.New("list dead letters: too many pages")
}
