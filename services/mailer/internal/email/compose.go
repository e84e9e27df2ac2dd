package email

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/acube/platform/libs/events"
)

// Bounds on text from events, in characters, so a hostile value cannot
// blow up a subject or a layout.
const (
	maxName  = 100
	maxTitle = 150
	maxWord  = 40
)

type sessionView struct {
	common
	SessionID      string
	SessionType    string
	Date           string
	Status         string
	StatusCode     string
	PreviousStatus string
	ManageURL      string
}

func (c *Composer) sessionBooked(ev events.Event) (Message, error) {
	var d events.SessionBooked
	r, err := decode(ev, &d, func() Recipient { return Recipient{Email: d.Email, Name: d.Name} })
	if err != nil {
		return Message{}, err
	}
	if err := required(d.SessionID, "session_id"); err != nil {
		return Message{}, err
	}
	status := word(d.Status)
	if status == "" {
		status = "pending"
	}
	v := sessionView{
		common: c.common(r), SessionID: d.SessionID.String(), SessionType: word(d.SessionType),
		Date: date(d.PreferredDate), Status: status, StatusCode: status,
		ManageURL: c.sessionLink(d.SessionID, d.ManageExpires, d.ManageURL),
	}
	return c.message(ev, "session_confirmation", r, v,
		Summary{Action: "session confirmation", RefLabel: "Session ID", RefID: v.SessionID})
}

func (c *Composer) sessionStatusChanged(ev events.Event) (Message, error) {
	var d events.SessionStatusChanged
	r, err := decode(ev, &d, func() Recipient { return Recipient{Email: d.Email, Name: d.Name} })
	if err != nil {
		return Message{}, err
	}
	if err := required(d.SessionID, "session_id"); err != nil {
		return Message{}, err
	}
	if word(d.Status) == "" {
		return Message{}, fmt.Errorf("%w: status is missing", ErrInvalid)
	}
	v := sessionView{
		common: c.common(r), SessionID: d.SessionID.String(), SessionType: word(d.SessionType),
		Date: date(d.PreferredDate), Status: word(d.Status), StatusCode: word(d.Status),
		PreviousStatus: word(d.PreviousStatus), ManageURL: c.sessionLink(d.SessionID, d.ManageExpires, d.ManageURL),
	}
	if v.PreviousStatus == "" {
		v.PreviousStatus = "its previous status"
	}
	return c.message(ev, "session_status_changed", r, v,
		Summary{Action: "session status update (" + v.Status + ")", RefLabel: "Session ID", RefID: v.SessionID})
}

type registrationView struct {
	common
	RegistrationID   string
	EventTitle       string
	When             string
	Location         string
	WaitlistPosition int
	ManageURL        string
}

func (c *Composer) eventRegistration(ev events.Event) (Message, error) {
	var d events.Registration
	r, err := decode(ev, &d, func() Recipient { return Recipient{Email: d.Email, Name: d.Name} })
	if err != nil {
		return Message{}, err
	}
	if err := required(d.RegistrationID, "registration_id"); err != nil {
		return Message{}, err
	}
	if err := required(d.EventID, "event_id"); err != nil {
		return Message{}, err
	}
	v := registrationView{
		common: c.common(r), RegistrationID: d.RegistrationID.String(),
		EventTitle: eventTitle(d.EventTitle), When: c.span(d.StartsAt, d.EndsAt),
		Location: place(d.Location), WaitlistPosition: max(d.WaitlistPosition, 0),
		ManageURL: c.registrationLink(d.RegistrationID, d.ManageExpires, d.ManageURL),
	}
	name, action := "event_registration", "event registration confirmation"
	switch ev.Type {
	case events.TypeEventWaitlisted:
		name, action = "event_waitlisted", "event waitlist notice"
	case events.TypeEventPromoted:
		name, action = "event_promoted", "event promotion notice"
	}
	return c.message(ev, name, r, v,
		Summary{Action: action, RefLabel: "Event ID", RefID: d.EventID.String()})
}

type volunteerView struct {
	common
	ApplicationID string
	AppliedAt     string
}

func (c *Composer) volunteerApplied(ev events.Event) (Message, error) {
	var d events.VolunteerApplied
	r, err := decode(ev, &d, func() Recipient { return Recipient{Email: d.Email, Name: d.Name} })
	if err != nil {
		return Message{}, err
	}
	if err := required(d.ApplicationID, "application_id"); err != nil {
		return Message{}, err
	}
	v := volunteerView{common: c.common(r), ApplicationID: d.ApplicationID.String(),
		AppliedAt: c.moment(d.AppliedAt, ev.OccurredAt)}
	return c.message(ev, "volunteer_application_received", r, v,
		Summary{Action: "volunteer application acknowledgment", RefLabel: "Application ID", RefID: v.ApplicationID})
}

type contactView struct {
	common
	ContactID  string
	ReceivedAt string
}

func (c *Composer) contactReceived(ev events.Event) (Message, error) {
	var d events.ContactReceived
	r, err := decode(ev, &d, func() Recipient { return Recipient{Email: d.Email, Name: d.Name} })
	if err != nil {
		return Message{}, err
	}
	if err := required(d.ContactID, "contact_id"); err != nil {
		return Message{}, err
	}
	v := contactView{common: c.common(r), ContactID: d.ContactID.String(),
		ReceivedAt: c.moment(d.ReceivedAt, ev.OccurredAt)}
	return c.message(ev, "contact_acknowledgment", r, v,
		Summary{Action: "contact form acknowledgment", RefLabel: "Contact ID", RefID: v.ContactID})
}

type welcomeView struct {
	common
	LoginURL string
}

func (c *Composer) accountCreated(ev events.Event) (Message, error) {
	var d events.AccountCreated
	r, err := decode(ev, &d, func() Recipient { return Recipient{Email: d.Email, Name: d.Name} })
	if err != nil {
		return Message{}, err
	}
	if err := required(d.AccountID, "account_id"); err != nil {
		return Message{}, err
	}
	v := welcomeView{common: c.common(r), LoginURL: c.link(d.LoginURL)}
	if v.LoginURL == "" {
		v.LoginURL = c.base + "/admin"
	}
	return c.message(ev, "welcome", r, v,
		Summary{Action: "welcome email", RefLabel: "Admin ID", RefID: d.AccountID.String()})
}

type jobView struct {
	common
	JobID        string
	Operation    string
	Entity       string
	TargetStatus string
	Outcome      string
	Requested    string
	Succeeded    string
	Failed       int
	StartedAt    string
	FinishedAt   string
	JobURL       string
}

func (c *Composer) jobCompleted(ev events.Event) (Message, error) {
	var d events.JobCompleted
	r, err := decode(ev, &d, func() Recipient { return Recipient{Email: d.AdminEmail, Name: d.AdminName} })
	if err != nil {
		return Message{}, err
	}
	if err := required(d.JobID, "job_id"); err != nil {
		return Message{}, err
	}
	v := jobView{
		common: c.common(r), JobID: d.JobID.String(),
		Operation: strings.ReplaceAll(word(d.Action), "_", " "), Entity: word(d.Entity),
		TargetStatus: word(d.Status), Outcome: word(d.State),
		Requested: count(int64(d.Total)), Succeeded: count(int64(d.Succeeded)), Failed: max(d.Failed, 0),
		StartedAt: c.moment(d.RequestedAt, ev.OccurredAt), FinishedAt: c.moment(d.CompletedAt, ev.OccurredAt),
		JobURL: c.link(cmp.Or(d.JobURL, "/api/admin/jobs/"+d.JobID.String())),
	}
	if v.Operation == "" {
		v.Operation = "operation"
	}
	if v.Entity == "" {
		v.Entity = "items"
	}
	if v.Outcome == "" {
		v.Outcome = "completed"
	}
	return c.message(ev, "bulk_operation_report", r, v,
		Summary{Action: "bulk operation report", RefLabel: "Job ID", RefID: v.JobID})
}

type exportView struct {
	common
	ExportID    string
	Kind        string
	Rows        string
	Size        string
	DownloadURL string
	ExpiresAt   string
}

func (c *Composer) exportCompleted(ev events.Event) (Message, error) {
	var d events.ExportCompleted
	r, err := decode(ev, &d, func() Recipient { return Recipient{Email: d.AdminEmail, Name: d.AdminName} })
	if err != nil {
		return Message{}, err
	}
	if err := required(d.ExportID, "export_id"); err != nil {
		return Message{}, err
	}
	v := exportView{
		common: c.common(r), ExportID: d.ExportID.String(),
		Kind: strings.ReplaceAll(word(d.Kind), "-", " "), Rows: count(d.Rows), Size: size(d.Bytes),
		DownloadURL: c.link(d.DownloadURL), ExpiresAt: c.moment(d.ExpiresAt, time.Time{}),
	}
	if v.DownloadURL == "" {
		return Message{}, fmt.Errorf("%w: download_url is missing or not a http(s) URL or path", ErrInvalid)
	}
	if v.Kind == "" {
		v.Kind = "data"
	}
	if v.ExpiresAt == "" {
		v.ExpiresAt = "a few days"
	}
	return c.message(ev, "export_ready", r, v,
		Summary{Action: "export ready notice", RefLabel: "Export ID", RefID: v.ExportID})
}

// clean makes text from an event fit for a subject or a body line: control
// characters (CR and LF above all) become spaces, runs of space shrink to
// one and the result is cut at limit characters.
func clean(s string, limit int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || r == utf8.RuneError {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > limit {
		s = strings.TrimSpace(string([]rune(s)[:limit-1])) + "…"
	}
	return s
}

// word is clean for short codes such as a status or a session type.
func word(s string) string { return strings.ToLower(clean(s, maxWord)) }

// date shows a YYYY-MM-DD date in words, or the cleaned input if it is not one.
func date(s string) string {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		if s = clean(s, maxWord); s == "" {
			return "a date to be agreed"
		}
		return s
	}
	return d.Format("Monday, 2 January 2006")
}

// moment shows t in the mailer's zone, falling back to fallback when t is
// zero, and to "" when both are.
func (c *Composer) moment(t, fallback time.Time) string {
	if t.IsZero() {
		t = fallback
	}
	if t.IsZero() {
		return ""
	}
	return t.In(c.loc).Format("Monday, 2 January 2006, 15:04 MST")
}

// span shows an event's time: one day with a start and end time, or two
// full moments when it runs over several days.
func (c *Composer) span(start, end time.Time) string {
	if start.IsZero() {
		return "to be announced"
	}
	s := start.In(c.loc)
	if end.IsZero() || !end.After(start) {
		return c.moment(start, time.Time{})
	}
	e := end.In(c.loc)
	if s.Year() == e.Year() && s.YearDay() == e.YearDay() {
		return s.Format("Monday, 2 January 2006, 15:04") + "–" + e.Format("15:04 MST")
	}
	return c.moment(start, time.Time{}) + " – " + c.moment(end, time.Time{})
}

// count shows n with thousands separators: 1,234,567.
func count(n int64) string {
	s := strconv.FormatInt(max(n, 0), 10)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// size shows a byte count for people: 12.3 MB.
func size(n int64) string {
	const unit = 1000
	if n < unit {
		return strconv.FormatInt(max(n, 0), 10) + " bytes"
	}
	v, suffix := float64(n), []string{"kB", "MB", "GB", "TB"}
	i := -1
	for v >= unit && i < len(suffix)-1 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %s", v, suffix[i])
}
