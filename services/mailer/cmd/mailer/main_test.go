package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	netmail "net/mail"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go/jetstream"

	libconfig "github.com/acube/platform/libs/config"
	"github.com/acube/platform/libs/consume"
	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/managelink"
	"github.com/acube/platform/libs/natstest"
	"github.com/acube/platform/libs/postgres/pgtest"
	"github.com/acube/platform/libs/smtptest"
	"github.com/acube/platform/libs/stream"
	"github.com/acube/platform/libs/testkit"
	"github.com/acube/platform/services/mailer/internal/migrations"
)

// harness is one mailer started by run against its own NATS server,
// database and (unless mock) SMTP sink.
type harness struct {
	t     *testing.T
	ctx   context.Context
	js    jetstream.JetStream
	nats  *natstest.Server
	env   map[string]string
	dbURL string
	addr  string
	sink  *smtptest.Sink
	logs  *testkit.SyncBuffer
	// svc is the running mailer (run); nil before.
	svc *testkit.Task
	// published is the stream sequence of the last message published into
	// each stream; settle waits for the consumer to ack up to it.
	published map[string]uint64
}

// start runs the mailer and waits until it is ready; with sink nil it
// runs without SMTP (mock mode).
func start(t *testing.T, sink *smtptest.Sink) *harness {
	t.Helper()
	h := prepare(t, sink)
	h.run()
	h.waitReady()
	return h
}

// prepare gives a mailer its database, NATS server with the streams it
// reads, and environment, without starting it.
func prepare(t *testing.T, sink *smtptest.Sink) *harness {
	t.Helper()
	// As in production: migrated by the schema's owner, served by the app
	// role, neither with any right on the database itself. dbURL, the
	// superuser's, is for the test's own queries.
	db := pgtest.NewMigratedService(t, schema, appGroup, migrations.Sets()...)
	dbURL := db.URL
	ns := natstest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)

	_, js := natstest.JetStream(t, ns.URL())
	// The owners declare these streams in production; the test plays them.
	for _, name := range []string{"BOOKING", "ADMIN", "EXPORTER"} {
		spec := stream.Spec{Name: name, Subjects: []string{strings.ToLower(name) + ".>"}, MaxAge: time.Hour, MaxBytes: 64 << 20}
		if _, err := stream.Ensure(ctx, js, spec); err != nil {
			t.Fatal(err)
		}
	}

	env := map[string]string{
		"MAILER_ADDR":          testkit.FreeAddr(t),
		"DATABASE_URL":         db.AppURL,
		"NATS_URL":             ns.URL(),
		"MAILER_RETRY_BACKOFF": "20ms",
		"LOG_LEVEL":            "debug",
		"PUBLIC_BASE_URL":      "https://acube.example",
		"MAILER_LINK_SECRET":   testLinkSecret,
	}
	if sink != nil {
		env["SMTP_HOST"], env["SMTP_PORT"] = sink.Host(), strconv.Itoa(sink.Port())
	}
	h := &harness{t: t, ctx: ctx, js: js, nats: ns, env: env, dbURL: dbURL, addr: env["MAILER_ADDR"], sink: sink,
		logs: &testkit.SyncBuffer{}, published: map[string]uint64{}}
	t.Cleanup(func() {
		// Background work (the inbox and delivery purges) only logs its
		// failures: a grant the app role lacks would go unseen.
		if strings.Contains(h.logs.String(), "SQLSTATE 42501") {
			t.Error("the service was refused a privilege (SQLSTATE 42501)")
		}
	})
	return h
}

// run starts the mailer without waiting for it. It is stopped when the
// test ends, and the test fails if it does not stop cleanly.
func (h *harness) run() {
	h.svc = testkit.Go(h.t, "the mailer", func(ctx context.Context) error { return run(ctx, libconfig.Map(h.env), h.logs) })
}

// waitReady waits until /readyz reports every part up: not only ready
// (PostgreSQL) but NATS, DEADLETTER and every consumer bound, so events
// the test publishes next are read.
func (h *harness) waitReady() {
	h.t.Helper()
	testkit.EventuallyErr(h.t, "the mailer ready", func() error {
		if code, body := h.readyz(); code != http.StatusOK || body.Status != "ready" {
			return fmt.Errorf("/readyz %d %+v", code, body)
		}
		return nil
	}, h.alive()...)
}

// alive makes a wait end at once when the mailer has exited, and show
// its log when it gives up.
func (h *harness) alive() []testkit.Option {
	return []testkit.Option{testkit.While(h.svc.Alive), testkit.Explain(func() string { return "mailer log:\n" + h.logs.String() })}
}

// readiness is the body of /readyz.
type readiness struct {
	Status  string            `json:"status"`
	Details map[string]string `json:"details"`
}

// readyz returns /readyz's status code and body, or 0 when it does not
// answer.
func (h *harness) readyz() (int, readiness) {
	var body readiness
	resp, err := http.Get("http://" + h.addr + "/readyz")
	if err != nil {
		return 0, body
	}
	defer resp.Body.Close()
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}

// publish sends ev on its subject; msgID overrides the Nats-Msg-Id, to
// replay an event past JetStream's duplicate window.
func (h *harness) publish(ev events.Event, msgID string) {
	h.t.Helper()
	body, err := json.Marshal(ev)
	if err != nil {
		h.t.Fatal(err)
	}
	if msgID == "" {
		msgID = ev.ID.String()
	}
	ack, err := h.js.Publish(h.ctx, ev.Subject(), body, jetstream.WithMsgID(msgID))
	if err != nil {
		h.t.Fatal(err)
	}
	h.published[ack.Stream] = max(h.published[ack.Stream], ack.Sequence)
}

// settle waits until the consumer has acknowledged or terminated every
// message this test published into streamName (natstest.WaitAcked): what
// the sink holds then is final.
func (h *harness) settle(streamName, durable string) {
	h.t.Helper()
	natstest.WaitAcked(h.t, h.js, streamName, durable, h.published[streamName], h.alive()...)
}

func (h *harness) metrics() string {
	h.t.Helper()
	resp, err := http.Get("http://" + h.addr + "/metrics")
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func (h *harness) deliveries(eventID uuid.UUID) (n int, messageID string) {
	h.t.Helper()
	conn, err := pgx.Connect(h.ctx, h.dbURL)
	if err != nil {
		h.t.Fatal(err)
	}
	defer conn.Close(h.ctx)
	err = conn.QueryRow(h.ctx, `SELECT count(*), coalesce(max(message_id), '') FROM mailer.deliveries
		WHERE event_id = $1 AND sent_at IS NOT NULL`, eventID).Scan(&n, &messageID)
	if err != nil {
		h.t.Fatal(err)
	}
	return n, messageID
}

func booked(t *testing.T, to, name string) events.Event {
	t.Helper()
	ev, err := events.New("booking", events.TypeSessionBooked, map[string]any{
		"session_id": uuid.New(), "email": to, "name": name, "session_type": "individual",
		"preferred_date": "2031-05-17", "status": "pending", "booked_at": time.Now().UTC(),
		"manage_expires": "2031-05-25T00:00:00Z",
	})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestIntegrationSessionBookedEmail(t *testing.T) {
	t.Parallel()
	refuse, flaky := "nobody@example.com", "flaky@example.com"
	var (
		mu       sync.Mutex
		deferred int
	)
	sink := smtptest.New(t, smtptest.Options{Rcpt: func(to string) error {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case to == refuse:
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		case to == flaky && deferred < 2:
			deferred++
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
		}
		return nil
	}})
	h := start(t, sink)

	ev := booked(t, "user@example.com", "Jane <b>Doe</b>")
	h.publish(ev, "")
	h.settle("BOOKING", "mailer-booking")

	msgs := sink.Messages()
	if len(msgs) != 1 {
		t.Fatalf("sink got %d messages, want 1", len(msgs))
	}
	got := parse(t, msgs[0].Data)
	wantID := fmt.Sprintf("<%s.", ev.ID)
	checks := []struct {
		name      string
		got, want string
		prefix    bool
	}{
		{name: "envelope to", got: strings.Join(msgs[0].To, ","), want: "user@example.com"},
		{name: "To", got: got.to, want: `"Jane <b>Doe</b>" <user@example.com>`},
		{name: "Subject", got: got.subject, want: "Session Booking Confirmed"},
		{name: "Message-ID", got: got.messageID, want: wantID, prefix: true},
		{name: "Message-ID domain", got: got.messageID[strings.IndexByte(got.messageID, '@')+1:], want: "acube.local>"},
	}
	for _, c := range checks {
		if c.prefix && !strings.HasPrefix(c.got, c.want) || !c.prefix && c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if !strings.Contains(got.text, "Saturday, 17 May 2031") {
		t.Errorf("text part lacks the date:\n%s", got.text)
	}
	// The event carries no link: the mailer mints it, and booking's
	// verifier, with the same secret, opens the session with it.
	link := manageLinkIn(t, got.text)
	var data events.SessionBooked
	if err := ev.UnmarshalData(&data); err != nil {
		t.Fatal(err)
	}
	if link.Path != "/manage/sessions/"+data.SessionID.String() {
		t.Errorf("manage link %s, want one for session %s", link, data.SessionID)
	}
	verifier, err := managelink.NewSigner([]byte(testLinkSecret))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2031, time.May, 24, 0, 0, 0, 0, time.UTC)
	if err := verifier.Verify(managelink.KindSession, data.SessionID.String(), link.Query().Get("token"), at); err != nil {
		t.Errorf("booking refuses the minted link %s: %v", link, err)
	}
	if strings.Contains(h.logs.String(), link.Query().Get("token")) {
		t.Error("logs contain the manage token")
	}
	if !strings.Contains(got.html, "Jane &lt;b&gt;Doe&lt;/b&gt;") || strings.Contains(got.html, "<b>Doe") {
		t.Errorf("html part does not escape the name:\n%s", got.html)
	}
	if n, id := h.deliveries(ev.ID); n != 1 || "<"+id+">" != got.messageID {
		t.Errorf("deliveries: %d rows with message id %q, want 1 with %q", n, id, got.messageID)
	}

	t.Run("redelivery sends nothing", func(t *testing.T) {
		h.publish(ev, "replayed-"+ev.ID.String()) // past the duplicate window
		other := booked(t, "other@example.com", "Other")
		h.publish(other, "")
		h.settle("BOOKING", "mailer-booking")
		if n := sink.Count(); n != 2 {
			t.Fatalf("sink got %d messages, want 2 (the replay must not send)", n)
		}
	})

	t.Run("5xx recipient is dead-lettered", func(t *testing.T) {
		bad := booked(t, refuse, "Nobody")
		h.publish(bad, "")
		h.settle("BOOKING", "mailer-booking")
		dl, err := h.js.Stream(h.ctx, consume.DeadLetterStream)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := dl.GetLastMsgForSubject(h.ctx, consume.DeadLetterPrefix+"mailer-booking")
		if err != nil {
			t.Fatalf("no dead letter: %v", err)
		}
		gotEv, err := events.Decode(raw.Data)
		if err != nil || gotEv.ID != bad.ID {
			t.Fatalf("dead letter holds %v (%v), want event %s", gotEv.ID, err, bad.ID)
		}
		if attempts := raw.Header.Get(consume.HeaderAttempts); attempts != "1" {
			t.Errorf("dead-lettered after %s attempts, want 1", attempts)
		}
		if cause := raw.Header.Get(consume.HeaderError); !strings.Contains(cause, "550") {
			t.Errorf("dead letter error %q does not name the 550", cause)
		}
		if n, _ := h.deliveries(bad.ID); n != 0 {
			t.Errorf("refused email recorded as sent")
		}
		if n := sink.Count(); n != 2 {
			t.Errorf("sink got %d messages, want 2", n)
		}
	})

	t.Run("4xx is retried until it goes through", func(t *testing.T) {
		ev := booked(t, flaky, "Flaky")
		h.publish(ev, "")
		h.settle("BOOKING", "mailer-booking")
		if n, _ := h.deliveries(ev.ID); n != 1 {
			t.Errorf("deliveries after 4xx: %d, want 1", n)
		}
		if n := sink.Count(); n != 3 {
			t.Errorf("sink got %d messages, want 3", n)
		}
	})

	t.Run("welcome email from the ADMIN stream", func(t *testing.T) {
		ev, err := events.New("admin", events.TypeAccountCreated, events.AccountCreated{
			Email: "new-admin@example.com", Name: "New Admin", AccountID: uuid.New()})
		if err != nil {
			t.Fatal(err)
		}
		h.publish(ev, "")
		h.settle("ADMIN", "mailer-admin")
		msgs := sink.Messages()
		got := parse(t, msgs[len(msgs)-1].Data)
		if got.subject != "Welcome to A-Cube Admin" || !strings.Contains(got.text, "https://acube.example/admin") {
			t.Errorf("welcome email: subject %q, text:\n%s", got.subject, got.text)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		m := h.metrics()
		for _, want := range []string{
			`emails_sent_total{template="session_confirmation"} 3`,
			`emails_sent_total{template="welcome"} 1`,
			`email_failures_total{kind="permanent",template="session_confirmation"} 1`,
			`email_failures_total{kind="transient",template="session_confirmation"} 2`,
			`consumer_messages_total{consumer="mailer-booking",outcome="duplicate"} 1`,
			`consumer_messages_total{consumer="mailer-booking",outcome="retried"} 2`,
			`email_send_duration_seconds_count 7`,
		} {
			if !strings.Contains(m, want) {
				t.Errorf("metrics lack %s", want)
			}
		}
	})

	t.Run("logs hold no body or token", func(t *testing.T) {
		logs := h.logs.String()
		for _, secret := range []string{"SECRET-TOKEN", "thank you for booking"} {
			if strings.Contains(logs, secret) {
				t.Errorf("logs contain %q", secret)
			}
		}
	})
}

// TestIntegrationEventNoticeEmails: the cancellation and reschedule events
// booking publishes, in booking's own field names, reach the registrant.
func TestIntegrationEventNoticeEmails(t *testing.T) {
	t.Parallel()
	sink := smtptest.New(t, smtptest.Options{})
	h := start(t, sink)
	eventID := uuid.New()
	event := func(typ, to string, data map[string]any) events.Event {
		t.Helper()
		data["email"], data["name"], data["registration_id"], data["event_id"] = to, "Sam <i>Reg</i>", uuid.New(), eventID
		data["event_title"], data["location"] = "Grief Circle", "Room 2"
		data["starts_at"], data["ends_at"] = "2031-05-17T16:00:00Z", "2031-05-17T18:00:00Z"
		ev, err := events.New("booking", typ, data)
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	h.publish(event(events.TypeEventRescheduled, "moved@example.com", map[string]any{
		// An event published before manage_expires existed: its link is
		// used as it is (rollout compatibility).
		"status": "waitlisted", "waitlist_position": 2, "manage_url": "https://acube.example/api/registrations/x?token=SECRET-TOKEN",
		"previous_starts_at": "2031-05-10T16:00:00Z", "previous_ends_at": "2031-05-10T18:00:00Z", "previous_location": "Room 2",
		"rescheduled_at": time.Now().UTC(),
	}), "")
	h.publish(event(events.TypeRegistrationCancelled, "self@example.com", map[string]any{
		"status": "cancelled", "previous_status": "confirmed", "cancelled_by": "registrant", "cancelled_at": time.Now().UTC(),
	}), "")
	h.publish(event(events.TypeRegistrationCancelled, "byadmin@example.com", map[string]any{
		"status": "cancelled", "previous_status": "confirmed", "cancelled_by": "ada@acube.example",
		"reason": "The circle is for members only.", "cancelled_at": time.Now().UTC(),
	}), "")
	h.settle("BOOKING", "mailer-booking")

	got := map[string]received{}
	for _, m := range sink.Messages() {
		got[strings.Join(m.To, ",")] = parse(t, m.Data)
	}
	tests := []struct {
		to, subject string
		want        []string
	}{
		{to: "moved@example.com", subject: "New Time: Grief Circle", want: []string{"When:  Saturday, 17 May 2031, 16:00–18:00 UTC",
			"(was: Saturday, 10 May 2031, 16:00–18:00 UTC)", "still on the waitlist (position 2)",
			"https://acube.example/api/registrations/x?token=SECRET-TOKEN"}},
		{to: "self@example.com", subject: "Registration Cancelled: Grief Circle", want: []string{"as you asked"}},
		{to: "byadmin@example.com", subject: "Your Registration Was Cancelled: Grief Circle",
			want: []string{"our team has cancelled", "Reason: The circle is for members only."}},
	}
	if len(got) != len(tests) {
		t.Fatalf("sink got emails to %v, want %d", got, len(tests))
	}
	for _, tt := range tests {
		m, ok := got[tt.to]
		if !ok {
			t.Errorf("no email to %s", tt.to)
			continue
		}
		if m.subject != tt.subject {
			t.Errorf("%s: subject %q, want %q", tt.to, m.subject, tt.subject)
		}
		for _, w := range tt.want {
			if !strings.Contains(m.text, w) {
				t.Errorf("%s: text lacks %q:\n%s", tt.to, w, m.text)
			}
		}
		if !strings.Contains(m.html, "Sam &lt;i&gt;Reg&lt;/i&gt;") || strings.Contains(m.text+m.html, "ada@acube.example") {
			t.Errorf("%s: html does not escape the name, or the admin's address shows:\n%s", tt.to, m.html)
		}
	}
	metrics := h.metrics()
	for _, tmpl := range []string{"event_rescheduled", "event_registration_cancelled", "event_registration_cancelled_by_admin"} {
		if want := `emails_sent_total{template="` + tmpl + `"} 1`; !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(h.logs.String(), "SECRET-TOKEN") {
		t.Error("logs contain the manage token")
	}
}

func TestIntegrationMockEmail(t *testing.T) {
	t.Parallel()
	h := start(t, nil)
	ev := booked(t, "user@example.com", "User")
	h.publish(ev, "")
	h.settle("BOOKING", "mailer-booking")
	var sessionID struct {
		SessionID string `json:"session_id"`
	}
	if err := ev.UnmarshalData(&sessionID); err != nil {
		t.Fatal(err)
	}
	logs := h.logs.String()
	for _, want := range []string{
		"[MOCK EMAIL] Sending session confirmation to user@example.com",
		"[MOCK EMAIL] Subject: Session Booking Confirmed",
		"[MOCK EMAIL] Session ID: " + sessionID.SessionID,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q", want)
		}
	}
	if strings.Contains(logs, "token=") {
		t.Error("logs contain the manage token")
	}
	if n, _ := h.deliveries(ev.ID); n != 1 {
		t.Errorf("mock delivery recorded %d times, want 1", n)
	}
}

// received is the parts of a received email a test checks.
type received struct {
	to, subject, messageID string
	text, html             string
}

func parse(t *testing.T, data []byte) received {
	t.Helper()
	m, err := netmail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("parse message: %v", err)
	}
	dec := new(mime.WordDecoder)
	subject, err := dec.DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	to, err := m.Header.AddressList("To")
	if err != nil || len(to) != 1 {
		t.Fatalf("To header %q: %v", m.Header.Get("To"), err)
	}
	r := received{to: to[0].String(), subject: subject, messageID: m.Header.Get("Message-ID")}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("content type %q: %v", m.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := mr.NextPart() // decodes quoted-printable
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p)
		switch ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type")); ct {
		case "text/plain":
			r.text = string(b)
		case "text/html":
			r.html = string(b)
		}
	}
	if r.text == "" || r.html == "" {
		t.Fatalf("want a text and an html part, got text %d bytes, html %d bytes", len(r.text), len(r.html))
	}
	return r
}

// testLinkSecret is the MAILER_LINK_SECRET of the tests.
const testLinkSecret = "mailer-test-link-secret-of-32-bytes!"

// manageLinkIn is the manage link (…?token=…) in an email's text.
func manageLinkIn(t *testing.T, text string) *url.URL {
	t.Helper()
	for _, f := range strings.Fields(text) {
		if strings.HasPrefix(f, "https://") && strings.Contains(f, "?token=") {
			u, err := url.Parse(f)
			if err != nil {
				t.Fatal(err)
			}
			return u
		}
	}
	t.Fatalf("no manage link in:\n%s", text)
	return nil
}
