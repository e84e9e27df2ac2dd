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
	// Recovered says the probe got through; Recovery is how long after the
	// fault ended.
	Recovered bool
	Recovery  time.Duration
	// MailerKill marks a scenario that killed the mailer.
	MailerKill bool
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
// recover, a valid request rejected, or an email resent outside the
// mailer's documented crash window.
func (rep Report) Failed() bool {
	for _, r := range rep.Rows {
		if r.Lost > 0 || r.Rejected > 0 || r.Duplicated > 0 || r.Overbooked > 0 || (r.Resent > 0 && !r.MailerKill) {
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
	fmt.Fprintln(tw, "scenario\tsent\taccepted\trefused\trejected\tlost\tduplicated\tresent\toverbooked\ttime to recover\t")
	for _, r := range rep.Rows {
		rec := "-"
		switch {
		case r.Scenario == setupRow:
		case r.Recovered:
			rec = r.Recovery.Round(10 * time.Millisecond).String()
		default:
			rec = "not recovered"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t\n",
			r.Scenario, r.Sent, r.Accepted, r.Refused, r.Rejected, r.Lost, r.Duplicated, r.Resent, r.Overbooked, rec)
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
	subjectJob     = "Bulk"
	subjectExport  = "Export"
)

// check compares what each scenario's accepted requests should have left
// behind with what the system holds.
// super is the bootstrapped superadmin, who is welcomed too.
func check(super string, scs []*scenario, st *state) Report {
	var rep Report
	setup := Row{Scenario: setupRow}
	admins := []string{strings.ToLower(super)}
	for _, sc := range scs {
		admins = append(admins, sc.admin)
	}
	for _, a := range admins {
		setup.Sent++
		setup.Accepted++
		n := st.distinct(a, subjectWelcome)
		switch {
		case n == 0:
			setup.Lost++
			rep.problem("%s: no welcome email", a)
		case n > 1:
			setup.Duplicated += n - 1
			rep.problem("%s: %d welcome emails", a, n)
		}
		setup.Resent += st.resent(a, subjectWelcome)
	}
	rep.Rows = append(rep.Rows, setup)
	for _, sc := range scs {
		rep.Rows = append(rep.Rows, checkScenario(&rep, sc, st))
	}
	return rep
}

func checkScenario(rep *Report, sc *scenario, st *state) Row {
	row := Row{Scenario: sc.name, Recovered: sc.recovered, Recovery: sc.recovery, MailerKill: sc.mailerKill}
	jobs, exports, lostJobs, lostExports := 0, 0, 0, 0
	for _, q := range sc.reqs {
		row.Sent++
		if !q.accepted {
			if strings.HasPrefix(q.outcome, "status 4") {
				row.Rejected++
			} else {
				row.Refused++
			}
			if row.RefusedBy == nil {
				row.RefusedBy = map[string]int{}
			}
			row.RefusedBy[reason(q.outcome)]++
			continue
		}
		row.Accepted++
		var missing []string
		stored := 0
		switch q.kind {
		case kindSession:
			stored = st.sessions[q.email]
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
		if q.email != "" {
			n := st.distinct(q.email, "")
			switch {
			case n == 0:
				missing = append(missing, "no email")
			case n > 1:
				row.Duplicated += n - 1
				rep.problem("%s %s %s: %d emails with different Message-IDs", sc.name, q.kind, q.email, n)
			}
			row.Resent += st.resent(q.email, "")
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
	return row
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
