package httpapi

import (
	"context"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/acube/platform/libs/managelink"
	"github.com/acube/platform/libs/web/webtest"
	"github.com/acube/platform/services/booking/internal/booking"
)

// The fuzz targets here feed arbitrary bytes through every JSON body the
// booking API decodes (FuzzBookRequest, in hostile_test.go, covers the
// booking form), then through the domain's validation where it needs no
// database: whatever arrives ends as a value or a client error, never a
// panic or a server error.

// checkValidation fails the test unless err is nil or a field validation
// error naming at least one field.
func checkValidation(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var ve *booking.ValidationError
	if !errors.As(err, &ve) || len(ve.Fields) == 0 {
		t.Fatalf("validate %s: %v, want a ValidationError with fields", what, err)
	}
}

// acceptingStore is a booking.Store that accepts what the public forms
// write without a database; the embedded nil interface makes any other
// call fail loudly.
type acceptingStore struct {
	booking.Store
}

func (acceptingStore) AddContact(context.Context, booking.Contact, []booking.Message) error {
	return nil
}

func (acceptingStore) AddVolunteer(context.Context, booking.Volunteer, []booking.Message) error {
	return nil
}

func (acceptingStore) Register(_ context.Context, _ uuid.UUID, decide func(booking.Event, int) (booking.Registration, []booking.Message, error),
	_ func(booking.Event, booking.Registration) []booking.Message) (booking.Registration, bool, error) {
	e := booking.Event{Title: "Fuzz", Capacity: 1, StartsAt: fixedNow().AddDate(0, 1, 0), EndsAt: fixedNow().AddDate(0, 1, 1)}
	r, _, err := decide(e, 0)
	return r, false, err
}

// fuzzService is a booking service over acceptingStore at fixedNow.
func fuzzService(t testing.TB) *booking.Service {
	t.Helper()
	signer, err := managelink.NewSigner([]byte(strings.Repeat("f", 32)))
	if err != nil {
		t.Fatal(err)
	}
	return booking.NewService(acceptingStore{}, signer, nil, fixedNow,
		booking.Config{PublicBaseURL: "http://localhost:8001", LinkTTL: 168 * 3600e9, CancelNotice: 24 * 3600e9})
}

// checkStored fails the test when a value the service accepted carries
// text no valid form could: invalid UTF-8 would reach emails and CSVs.
func checkStored(t *testing.T, fields ...string) {
	t.Helper()
	for _, f := range fields {
		if !utf8.ValidString(f) {
			t.Fatalf("accepted invalid UTF-8 %q", f)
		}
	}
}

func FuzzContactRequest(f *testing.F) {
	for _, s := range []string{
		`{"email":"a@example.org","name":"A","message":"Hello"}`, `{"email":"a@example.org","name":"A","phone":"+1 555","subject":"S","message":"M"}`,
		`{}`, `null`, `{"message":"` + strings.Repeat("x", 5001) + `"}`, `{"email":"a@b","name":"\u0000"}`, `{"email":["x"]}`,
	} {
		f.Add(s)
	}
	svc := fuzzService(f)
	f.Fuzz(func(t *testing.T, body string) {
		var req contactRequest
		if !webtest.Decode(t, body, maxJSON, &req) {
			return
		}
		c, err := svc.Contact(context.Background(), booking.ContactRequest(req))
		checkValidation(t, "contact", err)
		if err == nil {
			checkStored(t, c.Email, c.Name, c.Phone, c.Subject, c.Message)
		}
	})
}

func FuzzVolunteerRequest(f *testing.F) {
	for _, s := range []string{
		`{"email":"v@example.org","name":"V","interests":"art","availability":"weekends","message":"hi"}`,
		`{"email":"v@example.org"}`, `{}`, `{"name":"\ud800"}`, `{"phone":"12345678901234567890123"}`, `[1]`,
	} {
		f.Add(s)
	}
	svc := fuzzService(f)
	f.Fuzz(func(t *testing.T, body string) {
		var req volunteerRequest
		if !webtest.Decode(t, body, maxJSON, &req) {
			return
		}
		v, err := svc.Apply(context.Background(), booking.VolunteerRequest(req))
		checkValidation(t, "volunteer", err)
		if err == nil {
			checkStored(t, v.Email, v.Name, v.Phone, v.Interests, v.Availability, v.Message)
		}
	})
}

func FuzzRegisterRequest(f *testing.F) {
	for _, s := range []string{
		`{"email":"r@example.org","name":"R","phone":"1234567890"}`, `{"email":"r@example.org","name":"R"}`,
		`{}`, `{"email":"r@example.org","name":""}`, `{"email":"\"q\"@example.org","name":"R"}`, `"x"`,
	} {
		f.Add(s)
	}
	svc := fuzzService(f)
	f.Fuzz(func(t *testing.T, body string) {
		var req registerRequest
		if !webtest.Decode(t, body, maxJSON, &req) {
			return
		}
		r, err := svc.Register(context.Background(), uuid.Nil, booking.RegisterRequest(req))
		if errors.Is(err, booking.ErrEventPast) {
			t.Fatalf("the fuzz event is in the future: %v", err)
		}
		checkValidation(t, "registration", err)
		if err == nil {
			checkStored(t, r.Email, r.Name, r.Phone)
		}
	})
}

func FuzzEventRequest(f *testing.F) {
	for _, s := range []string{
		`{"title":"Talk","starts_at":"2031-01-01T10:00:00Z","ends_at":"2031-01-01T12:00:00Z","capacity":20}`,
		`{"title":"T","starts_at":"2031-01-01T10:00:00+02:00","ends_at":"2031-03-01T12:00:00Z","capacity":100001}`,
		`{"title":"T","starts_at":"bad","capacity":-1}`, `{"capacity":1e400}`, `{"capacity":1.5}`, `{}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var req eventRequest
		if !webtest.Decode(t, body, maxJSON, &req) {
			return
		}
		e, err := booking.NewEvent(booking.EventRequest(req), fixedNow())
		checkValidation(t, "event", err)
		if err != nil {
			return
		}
		if e.Capacity < 1 || e.Capacity > booking.MaxCapacity || !e.EndsAt.After(e.StartsAt) {
			t.Fatalf("accepted event %+v from %q", e, body)
		}
		checkStored(t, e.Title, e.Description, e.Location)
	})
}

func FuzzStatusRequest(f *testing.F) {
	for _, s := range []string{
		`{"status":"confirmed"}`, `{"status":"cancelled","reason":"ill"}`, `{"status":"nope"}`, `{"status":null}`, `{"reason":1}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var req statusRequest
		if !webtest.Decode(t, body, maxJSON, &req) {
			return
		}
		if st, ok := booking.ParseStatus(req.Status); ok && string(st) != req.Status {
			t.Fatalf("status %q parsed as %q", req.Status, st)
		}
	})
}

func FuzzCancelRequest(f *testing.F) {
	for _, s := range []string{`{"reason":"cannot come"}`, `{}`, `{"reason":""}`, `{"reason":{"a":1}}`, `{"x":1}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var req cancelRequest
		webtest.Decode(t, body, maxJSON, &req)
	})
}

func FuzzSetStatusRequest(f *testing.F) {
	for _, s := range []string{`{"status":"read"}`, `{"status":"approved"}`, `{"status":"READ"}`, `{"status":""}`, `{}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var req setStatusRequest
		if !webtest.Decode(t, body, maxJSON, &req) {
			return
		}
		for _, valid := range []func(string) bool{booking.ValidContactStatus, booking.ValidVolunteerStatus} {
			if valid(req.Status) && (req.Status == "" || strings.ToLower(req.Status) != req.Status) {
				t.Fatalf("status %q accepted", req.Status)
			}
		}
	})
}
