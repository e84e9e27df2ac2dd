package stream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/acube/platform/libs/natstest"
)

// connect starts a server of the test's own and connects to it.
func connect(t *testing.T) jetstream.JetStream {
	t.Helper()
	srv := natstest.Start(t)
	nc, js, err := Connect(srv.URL(), t.Name(), slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return js
}

func config(t *testing.T, js jetstream.JetStream, name string) jetstream.StreamConfig {
	t.Helper()
	s, err := js.Stream(context.Background(), name)
	if err != nil {
		t.Fatalf("look up stream %s: %v", name, err)
	}
	return s.CachedInfo().Config
}

// TestIntegrationEnsureNeverNarrowsSilently declares a stream, then a
// narrower spec: Ensure refuses it naming the field and the stream keeps
// its limits, unless the spec allows the shrink. Wider specs apply.
func TestIntegrationEnsureNeverNarrowsSilently(t *testing.T) {
	t.Parallel()
	js := connect(t)
	ctx := context.Background()
	tests := []struct {
		name      string
		change    func(s *Spec, subject func(string) string)
		wantField string // named in the refusal; "" when the change applies
		want      func(jetstream.StreamConfig) bool
	}{
		{name: "lower max age", change: func(s *Spec, _ func(string) string) { s.MaxAge = 30 * time.Minute }, wantField: "max_age"},
		{name: "lower max bytes", change: func(s *Spec, _ func(string) string) { s.MaxBytes = 1 << 19 }, wantField: "max_bytes"},
		{name: "other replica count", change: func(s *Spec, _ func(string) string) { s.Replicas = 3 }, wantField: "num_replicas"},
		{name: "dropped subject", change: func(s *Spec, sub func(string) string) { s.Subjects = []string{sub("a")} }, wantField: "subjects drop"},
		{name: "wider limits apply", change: func(s *Spec, _ func(string) string) { s.MaxAge, s.MaxBytes = 2*time.Hour, 1<<21 },
			want: func(c jetstream.StreamConfig) bool { return c.MaxAge == 2*time.Hour && c.MaxBytes == 1<<21 }},
		{name: "added subject applies", change: func(s *Spec, sub func(string) string) { s.Subjects = append(s.Subjects, sub("c")) },
			want: func(c jetstream.StreamConfig) bool { return len(c.Subjects) == 3 }},
		{name: "allowed shrink applies", change: func(s *Spec, _ func(string) string) { s.MaxAge, s.AllowShrink = 30*time.Minute, true },
			want: func(c jetstream.StreamConfig) bool { return c.MaxAge == 30*time.Minute }},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := fmt.Sprintf("NARROW%d", i)
			subject := func(s string) string { return strings.ToLower(name) + "." + s }
			spec := Spec{Name: name, Subjects: []string{subject("a"), subject("b")}, MaxAge: time.Hour, MaxBytes: 1 << 20, Replicas: 1}
			if _, err := Ensure(ctx, js, spec); err != nil {
				t.Fatalf("first declaration: %v", err)
			}
			before := config(t, js, name)
			next := spec
			next.Subjects = slices.Clone(spec.Subjects)
			tt.change(&next, subject)
			_, err := Ensure(ctx, js, next)
			after := config(t, js, name)
			if tt.wantField != "" {
				if !errors.Is(err, ErrNarrowing) || !strings.Contains(err.Error(), tt.wantField) {
					t.Fatalf("Ensure = %v, want ErrNarrowing naming %s", err, tt.wantField)
				}
				if after.MaxAge != before.MaxAge || after.MaxBytes != before.MaxBytes ||
					after.Replicas != before.Replicas || !slices.Equal(after.Subjects, before.Subjects) {
					t.Errorf("refused declaration changed the stream: %+v, was %+v", after, before)
				}
				return
			}
			if err != nil {
				t.Fatalf("Ensure = %v, want the change applied", err)
			}
			if !tt.want(after) {
				t.Errorf("stream after Ensure: %+v", after)
			}
		})
	}
}

// fullStream is JetStream's error code for a publish a DiscardNew stream
// has no room for: "maximum bytes exceeded".
const fullStream = 10077

// TestIntegrationFullStreamRefuses fills a small stream: the publish that
// does not fit is refused, and the first message is still there (with
// DiscardOld it was silently dropped to make room). Usage shows the fill.
func TestIntegrationFullStreamRefuses(t *testing.T) {
	t.Parallel()
	js := connect(t)
	ctx := context.Background()
	spec := Spec{Name: "FULL", Subjects: []string{"full.>"}, MaxAge: time.Hour, MaxBytes: 4096}
	if _, err := Ensure(ctx, js, spec); err != nil {
		t.Fatal(err)
	}
	var (
		accepted int
		refused  error
	)
	for range 100 {
		if _, refused = js.Publish(ctx, "full.x", make([]byte, 200)); refused != nil {
			break
		}
		accepted++
	}
	if refused == nil {
		t.Fatalf("100 publishes of 200 bytes into a %d-byte stream were all accepted", spec.MaxBytes)
	}
	// The outbox relay retries this answer (it is not one of its permanent
	// ones), so the event waits in the outbox until the stream has room.
	var apiErr *jetstream.APIError
	if !errors.As(refused, &apiErr) || apiErr.ErrorCode != fullStream {
		t.Errorf("refusal %v, want JetStream error %d (maximum bytes exceeded)", refused, fullStream)
	}
	s, err := js.Stream(ctx, spec.Name)
	if err != nil {
		t.Fatal(err)
	}
	st := s.CachedInfo().State
	if st.FirstSeq != 1 || st.Msgs != uint64(accepted) {
		t.Errorf("after refusal %v: first seq %d, %d messages; want 1 and the %d accepted", refused, st.FirstSeq, st.Msgs, accepted)
	}
	if _, err := s.GetMsg(ctx, 1); err != nil {
		t.Errorf("first message was dropped: %v", err)
	}

	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewUsage(js, spec))
	want := `
# HELP jetstream_stream_max_bytes Bytes at which the stream refuses new messages (its max_bytes).
# TYPE jetstream_stream_max_bytes gauge
jetstream_stream_max_bytes{stream="FULL"} 4096
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "jetstream_stream_max_bytes"); err != nil {
		t.Error(err)
	}
	if got := sample(t, reg, "jetstream_stream_bytes"); got != float64(st.Bytes) || got == 0 {
		t.Errorf("jetstream_stream_bytes = %v, want the stream's %d", got, st.Bytes)
	}
}

// sample is the value of the one sample of gauge name in reg.
func sample(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no single sample of %s", name)
	return 0
}

// TestIntegrationAuditOneOwner declares AUDIT as its owner (admin) and as
// the publishers (booking, exporter) do, with different replica wishes and
// in both orders: neither declaration changes the stream the other made,
// and the owner's wins once it declares.
func TestIntegrationAuditOneOwner(t *testing.T) {
	t.Parallel()
	js := connect(t)
	ctx := context.Background()
	owner := Audit(1)
	publisher := Audit(3).IfMissing() // a replica count this single server cannot even hold

	// A publisher first: it creates AUDIT with its own limits so its
	// outbox need not wait; here that must be replicas 1 to succeed.
	if _, err := Ensure(ctx, js, Audit(1).IfMissing()); err != nil {
		t.Fatalf("publisher creates AUDIT: %v", err)
	}
	created := config(t, js, "AUDIT")
	for i, step := range []struct {
		who  string
		spec Spec
	}{{"owner", owner}, {"publisher", publisher}, {"owner", owner}, {"publisher", publisher}} {
		if _, err := Ensure(ctx, js, step.spec); err != nil {
			t.Fatalf("step %d, %s declares AUDIT: %v", i, step.who, err)
		}
		got := config(t, js, "AUDIT")
		if got.Replicas != 1 || got.MaxBytes != owner.MaxBytes || got.MaxAge != owner.MaxAge || got.Discard != jetstream.DiscardNew {
			t.Fatalf("step %d, after %s: AUDIT is %+v, want the owner's spec", i, step.who, got)
		}
	}
	if got := config(t, js, "AUDIT"); got.Replicas != created.Replicas {
		t.Errorf("replicas flapped: %d, created with %d", got.Replicas, created.Replicas)
	}

	// The owner with another replica count is refused, not applied.
	_, err := Ensure(ctx, js, Audit(3))
	if !errors.Is(err, ErrNarrowing) || !strings.Contains(err.Error(), "num_replicas") {
		t.Errorf("owner asking for 3 replicas of an R1 AUDIT: %v, want a refusal naming num_replicas", err)
	}
}

// TestIntegrationEnsureUpgradesDiscard finds a stream declared by the
// earlier code (DiscardOld) and switches it to DiscardNew, which narrows
// nothing.
func TestIntegrationEnsureUpgradesDiscard(t *testing.T) {
	t.Parallel()
	js := connect(t)
	ctx := context.Background()
	spec := Booking(1)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: spec.Name, Subjects: spec.Subjects,
		MaxAge: spec.MaxAge, MaxBytes: spec.MaxBytes, Discard: jetstream.DiscardOld, Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	if _, err := Ensure(ctx, js, spec); err != nil {
		t.Fatalf("Ensure over an old declaration: %v", err)
	}
	if got := config(t, js, spec.Name).Discard; got != jetstream.DiscardNew {
		t.Errorf("discard = %v, want new", got)
	}
}
