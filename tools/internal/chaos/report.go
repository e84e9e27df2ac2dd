package chaos

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Row is one scenario's outcome.
type Row struct {
	Scenario string
	// Sent counts logical requests (a booking retried with its
	// Idempotency-Key counts once).
	Sent int
	// Accepted were answered 2xx with an id.
	Accepted int
	// Refused failed with a 5xx or a connection error while something was
	// down; their effect is not checked.
	Refused int
	// Rejected were answered 4xx: the load sends only valid requests, so
	// each is a fault of the system (or of the run's setup).
	Rejected int
	// Lost were accepted but an effect is missing: the row, an email, a
	// finished job or export.
	Lost int
	// Duplicated effects: a row stored twice, or a recipient emailed under
	// more Message-IDs than the requests call for.
	Duplicated int
	// Resent counts extra copies of one Message-ID: the mailer's
	// documented crash window, recognisable by the receiver.
	Resent int
	// Overbooked is how far the scenario's event went past its capacity.
	Overbooked int
	// Misordered counts bookings whose emails arrived out of the order
	// of their changes (booked, confirmed, cancelled): per-aggregate
	// order broken (DESIGN §4).
	Misordered int
	// Unmet counts the scenario's own expectations that failed: a Break
	// or Heal marked Unmet, a Fault.Check problem, an email delivered to
	// a recipient the SMTP side refuses.
	Unmet int
	// Recovered says the probe got through; Recovery is how long after the
	// fault ended.
	Recovered bool
	Recovery  time.Duration
	// MailerKill marks a scenario that killed the mailer.
	MailerKill bool
	// NoRefusals marks a scenario whose fault stops nothing that answers:
	// a refused request fails the run.
	NoRefusals bool
	// RefusedBy counts the refusals and rejections by reason ("status 502", "connection
	// refused", ...).
	RefusedBy map[string]int
}

// Report is a run's outcome: one row per scenario plus the first problems
// found, to start an investigation from.
type Report struct {
	Rows     []Row
	Problems []string
}

// maxProblems bounds the problems a report lists.
const maxProblems = 30

func (rep *Report) problem(format string, args ...any) {
	if len(rep.Problems) < maxProblems {
		rep.Problems = append(rep.Problems, fmt.Sprintf(format, args...))
	}
}

func (rep Report) lost() int {
	n := 0
	for _, r := range rep.Rows {
		n += r.Lost
	}
	return n
}

// Failed reports whether the run found anything wrong: a lost or
// duplicated effect, an overbooked event, a scenario that did not
// recover, a valid request rejected, a request refused while nothing that
// answers was stopped, an email resent outside the mailer's documented
// crash window, emails out of their aggregate's order, or an unmet
// expectation of the scenario.
func (rep Report) Failed() bool {
	for _, r := range rep.Rows {
		if r.Lost > 0 || r.Rejected > 0 || r.Duplicated > 0 || r.Overbooked > 0 || (r.Resent > 0 && !r.MailerKill) {
			return true
		}
		if r.Misordered > 0 || r.Unmet > 0 || (r.Refused > 0 && r.NoRefusals) {
			return true
		}
		if r.Scenario != setupRow && !r.Recovered {
			return true
		}
	}
	return false
}

// Print writes the table and the problems.
func (rep Report) Print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tsent\taccepted\trefused\trejected\tlost\tduplicated\tresent\toverbooked\tmisordered\tunmet\ttime to recover\t")
	for _, r := range rep.Rows {
		rec := "-"
		switch {
		case r.Scenario == setupRow:
		case r.Recovered:
			rec = r.Recovery.Round(10 * time.Millisecond).String()
		default:
			rec = "not recovered"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t\n",
			r.Scenario, r.Sent, r.Accepted, r.Refused, r.Rejected, r.Lost, r.Duplicated, r.Resent, r.Overbooked,
			r.Misordered, r.Unmet, rec)
	}
	_ = tw.Flush()
	for _, r := range rep.Rows {
		if len(r.RefusedBy) == 0 {
			continue
		}
		reasons := make([]string, 0, len(r.RefusedBy))
		for why, n := range r.RefusedBy {
			reasons = append(reasons, fmt.Sprintf("%d× %s", n, why))
		}
		slices.Sort(reasons)
		fmt.Fprintf(w, "  not accepted in %s: %s\n", r.Scenario, strings.Join(reasons, ", "))
	}
	for _, p := range rep.Problems {
		fmt.Fprintln(w, "  problem:", p)
	}
}

// setupRow names the row of the admins created before the scenarios.
const setupRow = "setup (admins)"

// Email subjects of the emails addressed to admins (mailer templates).
const (
	subjectWelcome = "Welcome"
	subjectInvited = "Invited"
	subjectJob     = "Bulk"
	subjectExport  = "Export"
)

// check compares what each scenario's accepted requests should have left
// behind with what the system holds.
// super is the bootstrapped superadmin, who is welcomed too.
func check(super string, scs []*scenario, st *state) Report {
	var rep Report
	setup := Row{Scenario: setupRow}
	// The bootstrapped superadmin is welcomed; every other admin is
	// invited (and the run accepted the invitation).
	admins := []struct{ addr, subject string }{{strings.ToLower(super), subjectWelcome}}
	for _, sc := range scs {
		admins = append(admins, struct{ addr, subject string }{sc.admin, subjectInvited})
	}
	for _, a := range admins {
		setup.Sent++
		setup.Accepted++
		n := st.distinct(a.addr, a.subject)
		switch {
		case n == 0:
			setup.Lost++
			rep.problem("%s: no %q email", a.addr, a.subject)
		case n > 1:
			setup.Duplicated += n - 1
			rep.problem("%s: %d %q emails", a.addr, n, a.subject)
		}
		setup.Resent += st.resent(a.addr, a.subject)
	}
	rep.Rows = append(rep.Rows, setup)
	for _, sc := range scs {
		rep.Rows = append(rep.Rows, checkScenario(&rep, sc, st))
	}
	return rep
}

func checkScenario(rep *Report, sc *scenario, st *state) Row {
	row := Row{Scenario: sc.name, Recovered: sc.recovered, Recovery: sc.recovery, MailerKill: sc.mailerKill,
		NoRefusals: sc.noRefusals}
	jobs, exports, lostJobs, lostExports := 0, 0, 0, 0
	for _, q := range sc.reqs {
		if !tally(&row, q.outcome, q.accepted) {
			continue
		}
		var missing []string
		stored := 0
		// Emails the request calls for, and how many more may have been
		// sent by changes whose answer was lost.
		wantMails, mayMails := 1, 0
		switch q.kind {
		case kindSession:
			stored = st.sessions[q.email]
			var last string
			for _, s := range q.steps {
				if tally(&row, s.outcome, s.accepted) {
					wantMails++
					last = s.status
				} else if !strings.HasPrefix(s.outcome, "status 4") {
					mayMails++
				}
			}
			if got := st.sessionStatus[q.email]; last != "" && mayMails == 0 && stored > 0 && got != last {
				missing = append(missing, fmt.Sprintf("status %q, not %q", got, last))
			}
		case kindRegistration:
			stored = st.regs[sc.eventID][q.email]
		case kindVolunteer:
			stored = st.volunteers[q.email]
		case kindContact:
			stored = st.contacts[q.email]
		case kindJob:
			jobs++
			stored = 1
			j := st.jobs[q.id]
			if j.State != "completed" || j.Succeeded != len(q.ids) {
				missing = append(missing, fmt.Sprintf("job state %q, %d of %d succeeded", j.State, j.Succeeded, len(q.ids)))
			}
			for _, id := range q.ids {
				if s := st.contactStatus[id]; s != "read" {
					missing = append(missing, fmt.Sprintf("contact %s is %q, not read", id, s))
					break
				}
			}
			if len(missing) > 0 {
				lostJobs++
			}
		case kindExport:
			exports++
			stored = 1
			if s := st.exports[q.id]; s != "completed" {
				missing = append(missing, fmt.Sprintf("export %q", s))
				lostExports++
			}
		}
		switch {
		case stored == 0:
			missing = append(missing, "not stored")
		case stored > 1:
			row.Duplicated += stored - 1
			rep.problem("%s %s %s: stored %d times", sc.name, q.kind, q.email, stored)
		}
		switch {
		case q.email == "":
		case q.marked:
			// The SMTP side refuses this address: its email must be
			// dead-lettered once, and never delivered.
			if n := st.distinct(q.email, ""); n > 0 {
				row.Unmet++
				rep.problem("%s %s %s: %d emails delivered to an address the SMTP side refuses", sc.name, q.kind, q.email, n)
			}
			switch n := st.deadLetters[q.email]; {
			case n == 0:
				missing = append(missing, "not in DEADLETTER")
			case n > 1:
				row.Duplicated += n - 1
				rep.problem("%s %s %s: dead-lettered %d times", sc.name, q.kind, q.email, n)
			}
		default:
			n := st.distinct(q.email, "")
			switch {
			case n < wantMails:
				missing = append(missing, fmt.Sprintf("%d of %d emails", n, wantMails))
			case n > wantMails+mayMails:
				row.Duplicated += n - wantMails - mayMails
				rep.problem("%s %s %s: %d emails with different Message-IDs for %d", sc.name, q.kind, q.email, n, wantMails)
			}
			row.Resent += st.resent(q.email, "")
			if len(q.steps) > 0 && !st.inOrder(rep, sc.name, q.email) {
				row.Misordered++
			}
		}
		if len(missing) > 0 {
			row.Lost++
			rep.problem("%s %s %s%s accepted (%s) but %s", sc.name, q.kind, q.email, q.id, q.outcome, strings.Join(missing, ", "))
		}
	}
	// Job reports and export links go to the scenario's admin; an email
	// missing for a job already counted lost is not counted again.
	for _, c := range []struct {
		subject        string
		want, lostHere int
	}{{subjectJob, jobs, lostJobs}, {subjectExport, exports, lostExports}} {
		n := st.distinct(sc.admin, c.subject)
		if n < c.want {
			if extra := c.want - n - c.lostHere; extra > 0 {
				row.Lost += extra
				rep.problem("%s: %d of %d %q emails to %s", sc.name, n, c.want, c.subject, sc.admin)
			}
		}
		if n > c.want {
			row.Duplicated += n - c.want
			rep.problem("%s: %d %q emails to %s for %d requests", sc.name, n, c.subject, sc.admin, c.want)
		}
		row.Resent += st.resent(sc.admin, c.subject)
	}
	if c := st.confirmed[sc.eventID]; c > sc.capacity {
		row.Overbooked = c - sc.capacity
		rep.problem("%s: event %s has %d confirmed for %d seats", sc.name, sc.eventID, c, sc.capacity)
	}
	if sc.noRefusals && row.Refused > 0 {
		rep.problem("%s: %d requests refused, though the fault stops nothing that answers", sc.name, row.Refused)
	}
	for _, u := range sc.unmet {
		row.Unmet++
		rep.problem("%s: %s", sc.name, u)
	}
	for _, p := range st.checks[sc.name] {
		row.Unmet++
		rep.problem("%s: %s", sc.name, p)
	}
	return row
}

// tally counts one request (or one status change of a booking) as
// sent and accepted, refused or rejected, and reports whether it was
// accepted.
func tally(row *Row, outcome string, accepted bool) bool {
	row.Sent++
	if accepted {
		row.Accepted++
		return true
	}
	if strings.HasPrefix(outcome, "status 4") {
		row.Rejected++
	} else {
		row.Refused++
	}
	if row.RefusedBy == nil {
		row.RefusedBy = map[string]int{}
	}
	row.RefusedBy[reason(outcome)]++
	return false
}

// lifecycleRank orders a booking's emails by subject (mailer templates):
// booked, then confirmed, then cancelled.
var lifecycleRank = map[string]int{
	"Session Booking Confirmed": 0,
	"Session Confirmed":         1,
	"Session Cancelled":         2,
}

// inOrder reports whether addr's emails arrived in the order of their
// booking's changes, by the first arrival of each Message-ID; it records
// a problem when they did not, or when no arrival order was recorded.
func (st *state) inOrder(rep *Report, scenario, addr string) bool {
	if st.arrivals == nil {
		rep.problem("%s %s: no arrival order recorded (Target.Arrivals); order not checked", scenario, addr)
		return false
	}
	var subjects []string
	seen := map[string]bool{}
	for _, a := range st.arrivals {
		if seen[a.MessageID] || !slices.Contains(a.To, addr) {
			continue
		}
		seen[a.MessageID] = true
		subjects = append(subjects, st.subjects[a.MessageID])
	}
	last := -1
	for _, s := range subjects {
		rank, ok := lifecycleRank[s]
		if !ok || rank <= last {
			rep.problem("%s session %s: emails arrived as %q, want booked, confirmed, cancelled in that order", scenario, addr, subjects)
			return false
		}
		last = rank
	}
	return true
}

// reason shortens an outcome to what it has in common with others:
// the status, or the last part of a transport error.
func reason(outcome string) string {
	if strings.HasPrefix(outcome, "status 5") {
		status, _, _ := strings.Cut(outcome, ":")
		return status
	}
	if strings.HasPrefix(outcome, "status ") {
		return outcome[:min(len(outcome), 100)]
	}
	if i := strings.LastIndex(outcome, ": "); i >= 0 {
		return outcome[i+2:]
	}
	return outcome
}

// distinct counts the Message-IDs addressed to addr whose subject contains
// subject ("" for any).
func (st *state) distinct(addr, subject string) int {
	n := 0
	for id := range st.mails[addr] {
		if strings.Contains(st.subjects[id], subject) {
			n++
		}
	}
	return n
}

// resent counts the extra copies of Message-IDs addressed to addr.
func (st *state) resent(addr, subject string) int {
	n := 0
	for id, copies := range st.mails[addr] {
		if strings.Contains(st.subjects[id], subject) {
			n += copies - 1
		}
	}
	return n
}
