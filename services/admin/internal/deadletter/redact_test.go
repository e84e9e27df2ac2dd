package deadletter

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/acube/platform/libs/consume"
	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/natstest"
	"github.com/acube/platform/libs/stream"
)

func TestRedactJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{name: "manage url of a booking event",
			in:   `{"type":"booking.event.registered","data":{"email":"a@example.com","manage_url":"https://x/api/registrations/1?token=123.abc","n":12345678901234567890}}`,
			want: `{"data":{"email":"a@example.com","manage_url":"[redacted]","n":12345678901234567890},"type":"booking.event.registered"}`},
		{name: "token-named fields at any depth",
			in:   `{"data":[{"token":"s1","refresh_token":"s2","Secret":"s3","password_hash":"s4","kind":"x"}]}`,
			want: `{"data":[{"Secret":"[redacted]","kind":"x","password_hash":"[redacted]","refresh_token":"[redacted]","token":"[redacted]"}]}`},
		{name: "token in a URL under another name",
			in:   `{"link":"https://x/manage?id=1&token=abc.def#top","note":"see https://x/?sig=zz&a=b"}`,
			want: `{"link":"https://x/manage?id=1\u0026token=[redacted]#top","note":"see https://x/?sig=[redacted]\u0026a=b"}`},
		{name: "empty and absent secrets stay as they are",
			in:   `{"manage_url":"","token":null}`,
			want: `{"manage_url":"","token":null}`},
		{name: "not JSON becomes a redacted string",
			in:   `GET /r?token=abc`,
			want: `"GET /r?token=[redacted]"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := string(redactJSON([]byte(tt.in))); got != tt.want {
				t.Errorf("redactJSON(%s)\n got %s\nwant %s", tt.in, got, tt.want)
			}
		})
	}
}

// recordingStore keeps what Replay was asked to publish.
type recordingStore struct{ subject, payload string }

func (s *recordingStore) Replay(_ context.Context, _ uuid.UUID, subject string, payload []byte, _ events.Event) error {
	s.subject, s.payload = subject, string(payload)
	return nil
}

func (s *recordingStore) Discard(ctx context.Context, _ events.Event, del func(context.Context) error) error {
	return del(ctx)
}

// TestIntegrationGetRedactsReplayKeepsOriginal dead-letters a booking
// event that carries a signed manage link: reading it through the
// service shows no token, and replaying it publishes the original bytes.
func TestIntegrationGetRedactsReplayKeepsOriginal(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := natstest.Start(t)
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))
	nc, js, err := stream.Connect(ns.URL(), "test", quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if _, err := stream.Ensure(ctx, js, stream.DeadLetter(1)); err != nil {
		t.Fatal(err)
	}
	const secret = "1900000000.c2VjcmV0LW1hYy12YWx1ZS1ub3QtdG8tYmUtcmVhZA"
	ev, err := events.New("booking", "booking.event.registered", map[string]any{
		"email": "alice@example.com", "status": "confirmed",
		"manage_url": "https://acube.example/api/registrations/r1?token=" + secret})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	msg := nats.NewMsg(consume.DeadLetterPrefix + "mailer")
	msg.Data = raw
	msg.Header.Set(consume.HeaderConsumer, "mailer")
	msg.Header.Set(consume.HeaderOriginalSubject, "booking.event.registered")
	msg.Header.Set(consume.HeaderError, "send https://acube.example/api/registrations/r1?token="+secret+": refused")
	ack, err := js.PublishMsg(ctx, msg)
	if err != nil {
		t.Fatal(err)
	}
	st := &recordingStore{}
	svc := NewService(js, st, time.Now)

	l, err := svc.Get(ctx, ack.Sequence)
	if err != nil {
		t.Fatal(err)
	}
	shown, err := json.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(shown), secret) {
		t.Errorf("the inspected letter shows the token: %s", shown)
	}
	var got struct {
		Data map[string]string `json:"data"`
	}
	if err := json.Unmarshal(l.Event, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"email": "alice@example.com", "status": "confirmed", "manage_url": Redacted}
	if !reflect.DeepEqual(got.Data, want) {
		t.Errorf("inspected event data = %v, want %v", got.Data, want)
	}
	if l.EventID != ev.ID.String() || l.EventType != ev.Type {
		t.Errorf("letter names event %s %s, want %s %s", l.EventID, l.EventType, ev.ID, ev.Type)
	}
	list, _, err := svc.List(ctx, "", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if listed, _ := json.Marshal(list); strings.Contains(string(listed), secret) {
		t.Errorf("the list shows the token: %s", listed)
	}

	if _, _, err := svc.Replay(ctx, Actor{ID: "adm-1"}, ack.Sequence); err != nil {
		t.Fatal(err)
	}
	if st.subject != "booking.event.registered" || st.payload != string(raw) {
		t.Errorf("replayed %q to %s, want the original bytes to booking.event.registered", st.payload, st.subject)
	}
}
