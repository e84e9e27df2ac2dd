package delivery_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	netmail "net/mail"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/acube/platform/libs/consume"
	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/postgres"
	"github.com/acube/platform/libs/postgres/pgtest"
	"github.com/acube/platform/libs/smtptest"
	"github.com/acube/platform/services/mailer/internal/delivery"
	"github.com/acube/platform/services/mailer/internal/email"
	"github.com/acube/platform/services/mailer/internal/migrations"
	"github.com/acube/platform/services/mailer/internal/sender"
	"github.com/acube/platform/services/mailer/internal/store"
	"github.com/acube/platform/services/mailer/internal/templates"
)

// TestIntegrationRecipientLimit sends acknowledgements through the real
// SMTP sender to an in-process server with a cap of 3 per hour: of 5 to
// one address (written in two cases) 3 go out and 2 are suppressed and
// counted; another address and an admin's email to the capped one are
// unaffected; redeliveries count once; a claim older than the window
// frees its place.
func TestIntegrationRecipientLimit(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil)) // the handler's: Do runs on this goroutine only
	sink := smtptest.New(t, smtptest.Options{})
	pool := migrated(ctx, t)

	set, err := templates.Load()
	if err != nil {
		t.Fatal(err)
	}
	composer, err := email.NewComposer(set, "https://acube.example", testLinks(t), time.UTC, "acube.local")
	if err != nil {
		t.Fatal(err)
	}
	from, _ := netmail.ParseAddress("A-Cube <no-reply@acube.local>")
	snd, err := sender.NewSMTP(sender.SMTPConfig{Host: sink.Host(), Port: sink.Port()}, from, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = snd.Close() })
	reg := prometheus.NewRegistry()
	m, err := delivery.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	effect := delivery.New(composer, snd, nil, m, log).LimitRecipients(pool, store.Limit{Max: 3, Window: time.Hour}).Effect()

	const victim = "victim@example.com"
	acks := make([]consume.Message, 5)
	for i := range acks {
		to := victim
		if i%2 == 1 {
			to = "Victim@EXAMPLE.com" // the same mailbox
		}
		acks[i] = booked(t, to)
	}
	acks[4] = contact(t, victim)
	steps := []struct {
		name           string
		msg            consume.Message
		wantSuppressed bool
	}{
		{name: "first", msg: acks[0]},
		{name: "second", msg: acks[1]},
		{name: "third", msg: acks[2]},
		{name: "fourth: over the cap", msg: acks[3], wantSuppressed: true},
		{name: "fifth, another form: over the cap", msg: acks[4], wantSuppressed: true},
		{name: "another address", msg: booked(t, "bystander@example.com")},
		{name: "an admin's status change to the capped address", msg: statusChanged(t, victim)},
		{name: "redelivery of an allowed one", msg: acks[1]},
		{name: "redelivery of a suppressed one", msg: acks[3], wantSuppressed: true},
	}
	var done []store.Delivery
	for _, st := range steps {
		before := sink.Count()
		d, err := effect.Do(ctx, st.msg)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		sent := sink.Count() - before
		if d.Suppressed != st.wantSuppressed || sent != map[bool]int{false: 1, true: 0}[st.wantSuppressed] {
			t.Errorf("%s: suppressed %v, %d sent; want suppressed %v", st.name, d.Suppressed, sent, st.wantSuppressed)
		}
		done = append(done, d)
	}
	b := &pgx.Batch{}
	effect.Record(b, done)
	if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return tx.SendBatch(ctx, b).Close() }); err != nil {
		t.Fatal(err)
	}

	var rows, claims int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM deliveries WHERE recipient = $1`, victim).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `SELECT cardinality(event_ids) FROM recipient_acks WHERE recipient = $1`,
		store.RecipientHash(victim)).Scan(&claims); err != nil {
		t.Fatal(err)
	}
	if rows != 4 || claims != 3 {
		t.Errorf("victim: %d delivery rows, %d claims; want 4 (3 acks, 1 status change) and 3", rows, claims)
	}
	for _, mt := range []struct {
		tmpl string
		want float64
	}{{"session_confirmation", 2}, {"contact_acknowledgment", 1}} {
		labels := map[string]string{"type": mt.tmpl, "reason": delivery.ReasonRecipientLimit}
		if got := value(t, reg, "emails_suppressed_total", labels); got != mt.want {
			t.Errorf("emails_suppressed_total%v = %v, want %v", labels, got, mt.want)
		}
	}
	if out := logs.String(); !strings.Contains(out, "recipient limit reached") || strings.Contains(strings.ToLower(out), victim) {
		t.Errorf("suppression must be logged without the address; logs:\n%s", out)
	}

	// The window slides: once the oldest claim is older than an hour,
	// its place is free again, and the next acknowledgement goes out.
	if _, err := pool.Exec(ctx, `UPDATE recipient_acks SET claimed_at[1] = claimed_at[1] - interval '2 hours' WHERE recipient = $1`,
		store.RecipientHash(victim)); err != nil {
		t.Fatal(err)
	}
	if d, err := effect.Do(ctx, booked(t, victim)); err != nil || d.Suppressed {
		t.Errorf("after the oldest claim left the window: suppressed %v, error %v; want sent", d.Suppressed, err)
	}
	if d, err := effect.Do(ctx, booked(t, victim)); err != nil || !d.Suppressed {
		t.Errorf("with the window full again: suppressed %v, error %v; want suppressed", d.Suppressed, err)
	}
}

// migrated opens a fresh database with the mailer's schema.
func migrated(ctx context.Context, t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool, err := postgres.Open(ctx, postgres.Config{URL: pgtest.NewMigrated(t, "mailer", migrations.Sets()...), Schema: "mailer"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func contact(t *testing.T, to string) consume.Message {
	t.Helper()
	return message(t, events.TypeContactReceived, events.ContactReceived{
		Email: to, Name: "User", ContactID: uuid.New(), ReceivedAt: time.Now().UTC()})
}

func statusChanged(t *testing.T, to string) consume.Message {
	t.Helper()
	return message(t, events.TypeSessionStatusChanged, events.SessionStatusChanged{
		Email: to, Name: "User", SessionID: uuid.New(), SessionType: "individual", PreferredDate: "2031-05-17",
		PreviousStatus: "pending", Status: "confirmed", ChangedAt: time.Now().UTC(), ManageExpires: time.Now().UTC().AddDate(0, 0, 30)})
}

func message(t *testing.T, typ string, data any) consume.Message {
	t.Helper()
	ev, err := events.New("booking", typ, data)
	if err != nil {
		t.Fatal(err)
	}
	return consume.Message{Event: ev, Subject: ev.Subject(), Delivery: 1}
}

func TestAcknowledgement(t *testing.T) {
	tests := []struct {
		typ  string
		want bool
	}{
		{events.TypeSessionBooked, true},
		{events.TypeEventRegistered, true},
		{events.TypeEventWaitlisted, true},
		{events.TypeEventAlreadyRegistered, true},
		{events.TypeVolunteerApplied, true},
		{events.TypeContactReceived, true},
		{events.TypeSessionStatusChanged, false},
		{events.TypeEventPromoted, false},
		{events.TypeEventRescheduled, false},
		{events.TypeRegistrationCancelled, false},
		{events.TypeAccountCreated, false},
		{events.TypeAccountInvited, false},
		{events.TypeJobCompleted, false},
		{events.TypeExportCompleted, false},
	}
	for _, tt := range tests {
		if got := delivery.Acknowledgement(tt.typ); got != tt.want {
			t.Errorf("Acknowledgement(%s) = %v, want %v", tt.typ, got, tt.want)
		}
	}
}
