package delivery_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/acube/platform/libs/consume"
	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/managelink"
	"github.com/acube/platform/libs/postgres"
	"github.com/acube/platform/libs/postgres/pgtest"
	"github.com/acube/platform/services/mailer/internal/delivery"
	"github.com/acube/platform/services/mailer/internal/email"
	"github.com/acube/platform/services/mailer/internal/migrations"
	"github.com/acube/platform/services/mailer/internal/sender"
	"github.com/acube/platform/services/mailer/internal/store"
	"github.com/acube/platform/services/mailer/internal/templates"
)

// fakeSender answers by recipient: refused@ gets a 5xx, later@ a 4xx,
// everyone else is accepted.
type fakeSender struct {
	mu   sync.Mutex
	sent []string
}

func (f *fakeSender) Send(_ context.Context, m email.Message) (sender.Receipt, error) {
	switch m.To.Address {
	case "refused@example.com":
		return sender.Receipt{}, &sender.Error{Kind: sender.KindPermanent, Code: 550, Err: errors.New("550 no such user")}
	case "later@example.com":
		return sender.Receipt{}, &sender.Error{Kind: sender.KindTransient, Code: 451, Err: errors.New("451 try later")}
	}
	f.mu.Lock()
	f.sent = append(f.sent, m.To.Address)
	f.mu.Unlock()
	return sender.Receipt{Response: "250 ok"}, nil
}

func booked(t *testing.T, to string) consume.Message {
	t.Helper()
	ev, err := events.New("booking", events.TypeSessionBooked, events.SessionBooked{
		Email: to, Name: "User", SessionID: uuid.New(), SessionType: "individual",
		PreferredDate: "2031-05-17", Status: "pending", BookedAt: time.Now().UTC()})
	if err != nil {
		t.Fatal(err)
	}
	return consume.Message{Event: ev, Subject: ev.Subject(), Delivery: 1}
}

func TestIntegrationSendAndRecord(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	pool, err := postgres.Open(ctx, postgres.Config{URL: pgtest.NewMigrated(t, "mailer", migrations.Sets()...), Schema: "mailer"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	set, err := templates.Load()
	if err != nil {
		t.Fatal(err)
	}
	composer, err := email.NewComposer(set, "https://acube.example", testLinks(t), time.UTC, "acube.local")
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	m, err := delivery.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	snd := &fakeSender{}
	h := delivery.New(composer, snd, nil, m, log)
	effect := h.Effect()

	tests := []struct {
		name     string
		msg      consume.Message
		wantKind string // "" for success
	}{
		{name: "accepted", msg: booked(t, "ok1@example.com")},
		{name: "5xx", msg: booked(t, "refused@example.com"), wantKind: "permanent"},
		{name: "4xx", msg: booked(t, "later@example.com"), wantKind: "transient"},
		{name: "cannot make an email", msg: booked(t, "not an address"), wantKind: "permanent"},
		{name: "accepted too", msg: booked(t, "ok2@example.com")},
	}
	var done []store.Delivery
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := effect.Do(ctx, tt.msg)
			switch {
			case tt.wantKind == "" && err != nil:
				t.Errorf("error %v, want none", err)
			case tt.wantKind == "permanent" && !consume.IsPermanent(err):
				t.Errorf("error %v, want a permanent one", err)
			case tt.wantKind == "transient" && (err == nil || consume.IsPermanent(err)):
				t.Errorf("error %v, want a transient one", err)
			}
			if err == nil {
				if d.EventID != tt.msg.Event.ID || d.MessageID == "" {
					t.Errorf("delivery %+v does not name the event and its message", d)
				}
				done = append(done, d)
			}
		})
	}
	b := &pgx.Batch{}
	effect.Record(b, done)
	if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return tx.SendBatch(ctx, b).Close() }); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM deliveries WHERE event_id = $1`, tt.msg.Event.ID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if got, want := n == 1, tt.wantKind == ""; got != want {
			t.Errorf("%s: delivery row present = %v, want %v", tt.name, got, want)
		}
	}
	if len(snd.sent) != 2 {
		t.Errorf("sent %v, want ok1 and ok2", snd.sent)
	}
	metrics := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{name: "emails_sent_total", labels: map[string]string{"template": "session_confirmation"}, want: 2},
		{name: "email_failures_total", labels: map[string]string{"template": "session_confirmation", "kind": sender.KindPermanent}, want: 1},
		{name: "email_failures_total", labels: map[string]string{"template": "session_confirmation", "kind": sender.KindTransient}, want: 1},
		{name: "email_failures_total", labels: map[string]string{"template": "none", "kind": delivery.KindInvalid}, want: 1},
		{name: "email_send_duration_seconds", want: 4}, // every send tried: ok1, refused, later, ok2
	}
	for _, mt := range metrics {
		if got := value(t, reg, mt.name, mt.labels); got != mt.want {
			t.Errorf("%s%v = %v, want %v", mt.name, mt.labels, got, mt.want)
		}
	}
}

// value is the counter's value, or the histogram's count, of the series
// of name with labels.
func value(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if want, ok := labels[l.GetName()]; ok && want != l.GetValue() {
					continue series
				}
			}
			if h := m.GetHistogram(); h != nil {
				return float64(h.GetSampleCount())
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// testLinks is the manage-link signer of the tests: the mailer mints the
// links of bookings and registrations with it.
func testLinks(t testing.TB) *managelink.Signer {
	t.Helper()
	s, err := managelink.NewSigner([]byte(strings.Repeat("k", managelink.MinSecretLen)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}
