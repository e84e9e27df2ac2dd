package chaos

import (
	"bufio"
	"reflect"
	"strings"
	"testing"
	"time"
)

// mails builds the mailbox view of a state: recipient → Message-ID → copies.
func mails(entries ...struct {
	to, id, subject string
	copies          int
}) (map[string]map[string]int, map[string]string) {
	m, subj := map[string]map[string]int{}, map[string]string{}
	for _, e := range entries {
		if m[e.to] == nil {
			m[e.to] = map[string]int{}
		}
		m[e.to][e.id] += e.copies
		subj[e.id] = e.subject
	}
	return m, subj
}

type mailEntry = struct {
	to, id, subject string
	copies          int
}

func TestCheckScenario(t *testing.T) {
	const booker = "s.session.0@chaos.test"
	const admin = "admin.s@chaos.test"
	session := func() *request {
		return &request{kind: kindSession, email: booker, id: "sid", accepted: true, outcome: "status 201"}
	}
	job := func() *request {
		return &request{kind: kindJob, ids: []string{"c1"}, id: "jid", accepted: true, outcome: "status 200"}
	}
	tests := []struct {
		name   string
		reqs   []*request
		st     func(*state)
		want   Row
		failed bool
	}{
		{
			name: "stored once, emailed once",
			reqs: []*request{session()},
			st: func(st *state) {
				st.sessions[booker] = 1
				st.mails, st.subjects = mails(mailEntry{booker, "e1.h@d", "Session Booking Confirmed", 1})
			},
			want: Row{Sent: 1, Accepted: 1},
		},
		{
			name: "refused request is not checked",
			reqs: []*request{{kind: kindSession, email: booker, outcome: "status 503: down"}},
			st:   func(*state) {},
			want: Row{Sent: 1, Refused: 1},
		},
		{
			name:   "rejected request fails the run",
			reqs:   []*request{{kind: kindSession, email: booker, outcome: "status 422: bad"}},
			st:     func(*state) {},
			want:   Row{Sent: 1, Rejected: 1},
			failed: true,
		},
		{
			name:   "accepted but not stored is lost",
			reqs:   []*request{session()},
			st:     func(st *state) { st.mails, st.subjects = mails(mailEntry{booker, "e1.h@d", "x", 1}) },
			want:   Row{Sent: 1, Accepted: 1, Lost: 1},
			failed: true,
		},
		{
			name:   "stored but never emailed is lost",
			reqs:   []*request{session()},
			st:     func(st *state) { st.sessions[booker] = 1 },
			want:   Row{Sent: 1, Accepted: 1, Lost: 1},
			failed: true,
		},
		{
			name: "stored twice and emailed under two Message-IDs is duplicated",
			reqs: []*request{session()},
			st: func(st *state) {
				st.sessions[booker] = 2
				st.mails, st.subjects = mails(mailEntry{booker, "e1.h@d", "x", 1}, mailEntry{booker, "e2.h@d", "x", 1})
			},
			want:   Row{Sent: 1, Accepted: 1, Duplicated: 2},
			failed: true,
		},
		{
			name: "same Message-ID twice is a resend",
			reqs: []*request{session()},
			st: func(st *state) {
				st.sessions[booker] = 1
				st.mails, st.subjects = mails(mailEntry{booker, "e1.h@d", "x", 2})
			},
			want:   Row{Sent: 1, Accepted: 1, Resent: 1},
			failed: true,
		},
		{
			name: "job completed, applied and reported",
			reqs: []*request{job()},
			st: func(st *state) {
				st.jobs["jid"] = jobState{State: "completed", Succeeded: 1}
				st.contactStatus["c1"] = "read"
				st.mails, st.subjects = mails(mailEntry{admin, "j1.h@d", "Bulk Status Update Completed", 1})
			},
			want: Row{Sent: 1, Accepted: 1},
		},
		{
			name: "unfinished job is lost once, its missing email not again",
			reqs: []*request{job()},
			st: func(st *state) {
				st.jobs["jid"] = jobState{State: "running"}
				st.contactStatus["c1"] = "new"
			},
			want:   Row{Sent: 1, Accepted: 1, Lost: 1},
			failed: true,
		},
		{
			name: "a job report emailed twice is duplicated",
			reqs: []*request{job()},
			st: func(st *state) {
				st.jobs["jid"] = jobState{State: "completed", Succeeded: 1}
				st.contactStatus["c1"] = "read"
				st.mails, st.subjects = mails(mailEntry{admin, "j1.h@d", "Bulk x", 1}, mailEntry{admin, "j2.h@d", "Bulk x", 1})
			},
			want:   Row{Sent: 1, Accepted: 1, Duplicated: 1},
			failed: true,
		},
		{
			name:   "confirmed past capacity is overbooked",
			reqs:   nil,
			st:     func(st *state) { st.confirmed["ev"] = 12 },
			want:   Row{Overbooked: 2},
			failed: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := &scenario{name: "s", admin: admin, eventID: "ev", capacity: 10, reqs: tt.reqs,
				recovered: true, recovery: time.Second}
			st := newState()
			tt.st(st)
			var rep Report
			got := checkScenario(&rep, sc, st)
			got.RefusedBy = nil
			want := tt.want
			want.Scenario, want.Recovered, want.Recovery = "s", true, time.Second
			if !reflect.DeepEqual(got, want) {
				t.Errorf("row %+v, want %+v (problems %v)", got, want, rep.Problems)
			}
			if f := (Report{Rows: []Row{got}}).Failed(); f != tt.failed {
				t.Errorf("Failed() = %v, want %v", f, tt.failed)
			}
		})
	}
}

func TestReportPrintsOneRowPerScenario(t *testing.T) {
	rep := Report{Rows: []Row{
		{Scenario: setupRow, Sent: 2, Accepted: 2},
		{Scenario: "kill-booking", Sent: 10, Accepted: 8, Refused: 2, Recovered: true, Recovery: 1500 * time.Millisecond,
			RefusedBy: map[string]int{"status 503": 2}},
		{Scenario: "nats-down", Sent: 5, Accepted: 5},
	}}
	var b strings.Builder
	rep.Print(&b)
	out := b.String()
	for _, want := range []string{"time to recover", "kill-booking", "1.5s", "not recovered", "2× status 503", "misordered", "unmet"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestPick(t *testing.T) {
	counts := map[kind]int{}
	for i := range 1000 {
		counts[pick(i)]++
	}
	tests := []struct {
		kind kind
		want int
	}{
		{kindJob, 20}, {kindExport, 10},
	}
	for _, tt := range tests {
		if counts[tt.kind] != tt.want {
			t.Errorf("%s: %d of 1000, want %d", tt.kind, counts[tt.kind], tt.want)
		}
	}
	for _, k := range []kind{kindSession, kindRegistration, kindVolunteer, kindContact} {
		if counts[k] == 0 {
			t.Errorf("no %s requests", k)
		}
	}
}

func TestCheckScenarioFaultExpectations(t *testing.T) {
	const booker = "s.session.0@chaos.test"
	const marked = "s.session.0@" + RejectDomain
	// lifecycle is a booking confirmed and then cancelled by the admin.
	lifecycle := func() *request {
		return &request{kind: kindSession, email: booker, id: "sid", accepted: true, outcome: "status 201",
			steps: []step{{status: "confirmed", accepted: true, outcome: "status 200"}, {status: "cancelled", accepted: true, outcome: "status 200"}}}
	}
	markedReq := func() *request {
		return &request{kind: kindSession, email: marked, id: "sid", accepted: true, outcome: "status 201", marked: true}
	}
	threeMails := func(st *state, order ...string) {
		st.sessions[booker], st.sessionStatus[booker] = 1, "cancelled"
		st.mails, st.subjects = mails(
			mailEntry{booker, "b@d", "Session Booking Confirmed", 1},
			mailEntry{booker, "c@d", "Session Confirmed", 1},
			mailEntry{booker, "x@d", "Session Cancelled", 1})
		st.arrivals = []Arrival{}
		for i, id := range order {
			st.arrivals = append(st.arrivals, Arrival{Seq: i + 1, MessageID: id, To: []string{booker}})
		}
	}
	tests := []struct {
		name       string
		reqs       []*request
		noRefusals bool
		unmet      []string
		st         func(*state)
		want       Row
		failed     bool
	}{
		{
			name: "booked, confirmed, cancelled in order",
			reqs: []*request{lifecycle()},
			st:   func(st *state) { threeMails(st, "b@d", "c@d", "x@d") },
			want: Row{Sent: 3, Accepted: 3},
		},
		{
			name:   "confirmed before booked is misordered",
			reqs:   []*request{lifecycle()},
			st:     func(st *state) { threeMails(st, "c@d", "b@d", "x@d") },
			want:   Row{Sent: 3, Accepted: 3, Misordered: 1},
			failed: true,
		},
		{
			name:   "no arrival order recorded is misordered, not passed",
			reqs:   []*request{lifecycle()},
			st:     func(st *state) { threeMails(st); st.arrivals = nil },
			want:   Row{Sent: 3, Accepted: 3, Misordered: 1},
			failed: true,
		},
		{
			name: "a status change never emailed is lost",
			reqs: []*request{lifecycle()},
			st: func(st *state) {
				threeMails(st, "b@d", "c@d")
				delete(st.mails[booker], "x@d")
			},
			want:   Row{Sent: 3, Accepted: 3, Lost: 1},
			failed: true,
		},
		{
			name: "a status change not stored is lost",
			reqs: []*request{lifecycle()},
			st: func(st *state) {
				threeMails(st, "b@d", "c@d", "x@d")
				st.sessionStatus[booker] = "confirmed"
			},
			want:   Row{Sent: 3, Accepted: 3, Lost: 1},
			failed: true,
		},
		{
			name: "a refused status change may or may not have emailed",
			reqs: []*request{{kind: kindSession, email: booker, id: "sid", accepted: true, outcome: "status 201",
				steps: []step{{status: "confirmed", accepted: true, outcome: "status 200"}, {status: "cancelled", outcome: "status 502: down"}}}},
			st:   func(st *state) { threeMails(st, "b@d", "c@d", "x@d") },
			want: Row{Sent: 3, Accepted: 2, Refused: 1},
		},
		{
			name:       "a refusal where nothing was stopped fails the run",
			reqs:       []*request{{kind: kindSession, email: booker, outcome: "status 503: down"}},
			st:         func(*state) {},
			want:       Row{Sent: 1, Refused: 1, NoRefusals: true},
			failed:     true,
			noRefusals: true,
		},
		{
			name: "a refused email dead-lettered once",
			reqs: []*request{markedReq()},
			st: func(st *state) {
				st.sessions[marked] = 1
				st.deadLetters[marked] = 1
			},
			want: Row{Sent: 1, Accepted: 1},
		},
		{
			name:   "a refused email not in DEADLETTER is lost",
			reqs:   []*request{markedReq()},
			st:     func(st *state) { st.sessions[marked] = 1 },
			want:   Row{Sent: 1, Accepted: 1, Lost: 1},
			failed: true,
		},
		{
			name: "a refused email dead-lettered twice is duplicated",
			reqs: []*request{markedReq()},
			st: func(st *state) {
				st.sessions[marked] = 1
				st.deadLetters[marked] = 2
			},
			want:   Row{Sent: 1, Accepted: 1, Duplicated: 1},
			failed: true,
		},
		{
			name: "a refused email delivered anyway is unmet",
			reqs: []*request{markedReq()},
			st: func(st *state) {
				st.sessions[marked] = 1
				st.deadLetters[marked] = 1
				st.mails, st.subjects = mails(mailEntry{marked, "m@d", "x", 1})
			},
			want:   Row{Sent: 1, Accepted: 1, Unmet: 1},
			failed: true,
		},
		{
			name:   "a fault's own check and an unmet break count",
			unmet:  []string{"break: booking not ready"},
			st:     func(st *state) { st.checks["s"] = []string{"poison row not parked"} },
			want:   Row{Unmet: 2},
			failed: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := &scenario{name: "s", admin: "admin.s@chaos.test", eventID: "ev", capacity: 10, reqs: tt.reqs,
				recovered: true, recovery: time.Second, noRefusals: tt.noRefusals, unmet: tt.unmet}
			st := newState()
			tt.st(st)
			var rep Report
			got := checkScenario(&rep, sc, st)
			got.RefusedBy = nil
			want := tt.want
			want.Scenario, want.Recovered, want.Recovery = "s", true, time.Second
			if !reflect.DeepEqual(got, want) {
				t.Errorf("row %+v, want %+v (problems %v)", got, want, rep.Problems)
			}
			if f := (Report{Rows: []Row{got}}).Failed(); f != tt.failed {
				t.Errorf("Failed() = %v, want %v", f, tt.failed)
			}
		})
	}
}

func TestMark(t *testing.T) {
	tests := []struct {
		name        string
		rejectEvery int
		i           int
		want        string
	}{
		{name: "no rejection", rejectEvery: 0, i: 6, want: "s.session.6@chaos.test"},
		{name: "not this one", rejectEvery: 7, i: 5, want: "s.session.5@chaos.test"},
		{name: "the 7th", rejectEvery: 7, i: 6, want: "s.session.6@" + RejectDomain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := &scenario{name: "s", rejectEvery: tt.rejectEvery}
			req := &request{kind: kindSession, email: address("s", kindSession, tt.i)}
			sc.mark(req, tt.i)
			if req.email != tt.want || req.marked != (tt.want != address("s", kindSession, tt.i)) {
				t.Errorf("mark: %q (marked %v), want %q", req.email, req.marked, tt.want)
			}
		})
	}
}

func TestParkedEvents(t *testing.T) {
	tests := []struct {
		name      string
		text      string
		want      float64
		wantFound bool
	}{
		{name: "absent", text: "# HELP x y\nx 1\n", want: 0, wantFound: false},
		{name: "plain", text: "# TYPE outbox_parked_events gauge\noutbox_parked_events 1\n", want: 1, wantFound: true},
		{name: "labelled, summed", text: "outbox_parked_events{schema=\"a b\"} 2\noutbox_parked_events{schema=\"c\"} 1 1700000000\n", want: 3, wantFound: true},
		{name: "a longer name is another metric", text: "outbox_parked_events_total 5\n", want: 0, wantFound: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, found := sumMetric(bufio.NewScanner(strings.NewReader(tt.text)), "outbox_parked_events")
			if got != tt.want || found != tt.wantFound {
				t.Errorf("sumMetric = %g, %v; want %g, %v", got, found, tt.want, tt.wantFound)
			}
		})
	}
}
