package booking

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/keyset"
	"github.com/acube/platform/libs/managelink"
)

// maxIdempotencyKey bounds the Idempotency-Key header.
const maxIdempotencyKey = 200

// Book validates req and stores the pending session with its
// booking.session.booked event in one transaction. With an idempotency key
// a repeat of the same request from the same client to the same route
// returns the first booking (replayed true) instead of making a second
// one; the key is stored only as its scoped digest.
func (s *Service) Book(ctx context.Context, req BookRequest, key IdempotencyKey) (x Session, replayed bool, err error) {
	if len(key.Key) > maxIdempotencyKey || !printable(key.Key) {
		return Session{}, false, &ValidationError{Fields: map[string]string{
			"Idempotency-Key": "must be 1 to 200 printable ASCII characters"}}
	}
	x, err = NewSession(req, s.clock())
	if err != nil {
		return Session{}, false, err
	}
	booked := Message{Type: events.TypeSessionBooked, Data: events.SessionBooked{
		Email: x.Email, Name: x.Name, SessionID: x.ID, SessionType: string(x.SessionType),
		PreferredDate: x.PreferredDate.Format(time.DateOnly), Status: string(x.Status),
		BookedAt: x.CreatedAt, ManageExpires: s.SessionLinkExpiry(x),
	}}
	var idem Idempotency
	if key.Key != "" {
		idem = Idempotency{KeyDigest: key.Digest(), RequestHash: req.Hash()}
	}
	x, replayed, err = s.store.BookSession(ctx, x, idem, []Message{booked})
	if err != nil {
		return Session{}, false, fmt.Errorf("book session: %w", err)
	}
	return x, replayed, nil
}

func printable(s string) bool {
	for i := range len(s) {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// Session returns a session for an admin.
func (s *Service) Session(ctx context.Context, id uuid.UUID) (Session, error) {
	x, err := s.store.Session(ctx, id)
	if err != nil {
		return Session{}, fmt.Errorf("get session %s: %w", id, err)
	}
	return x, nil
}

// SessionByLink returns a session to whoever holds its manage token.
func (s *Service) SessionByLink(ctx context.Context, id uuid.UUID, token string) (Session, error) {
	if err := s.links.Verify(managelink.KindSession, id.String(), token, s.clock()); err != nil {
		return Session{}, ErrBadLink
	}
	return s.Session(ctx, id)
}

// Sessions lists sessions, newest first.
func (s *Service) Sessions(ctx context.Context, f Filter) (Page[Session], error) {
	if err := checkFilter(&f, func(v string) bool { _, ok := ParseStatus(v); return ok }); err != nil {
		return Page[Session]{}, err
	}
	limit := f.Limit
	f.Limit++
	items, err := s.store.Sessions(ctx, f)
	if err != nil {
		return Page[Session]{}, fmt.Errorf("list sessions: %w", err)
	}
	return paginate(items, limit, func(x Session) keyset.Cursor { return keyset.Cursor{At: x.CreatedAt, ID: x.ID} }), nil
}

// ChangeSessionStatus moves a session along the status machine for an
// admin, recording the reason, and emits the change and its audit record.
func (s *Service) ChangeSessionStatus(ctx context.Context, a Actor, id uuid.UUID, to, reason string) (Session, error) {
	fields := map[string]string{}
	status, ok := ParseStatus(to)
	if !ok {
		fields["status"] = "must be one of pending, confirmed, completed, cancelled"
	}
	reason = checkText(fields, "reason", reason, maxReason, false)
	if err := invalid(fields); err != nil {
		return Session{}, err
	}
	x, err := s.store.UpdateSession(ctx, id, func(x *Session) ([]Message, error) {
		return s.moveSession(x, status, reason, a, true)
	})
	if err != nil {
		return Session{}, fmt.Errorf("change status of session %s: %w", id, err)
	}
	return x, nil
}

// CancelSessionByLink cancels a session for its booker, unless the session
// day is closer than the notice window.
func (s *Service) CancelSessionByLink(ctx context.Context, id uuid.UUID, token, reason string) (Session, error) {
	if err := s.links.Verify(managelink.KindSession, id.String(), token, s.clock()); err != nil {
		return Session{}, ErrBadLink
	}
	fields := map[string]string{}
	reason = checkText(fields, "reason", reason, maxReason, false)
	if err := invalid(fields); err != nil {
		return Session{}, err
	}
	x, err := s.store.UpdateSession(ctx, id, func(x *Session) ([]Message, error) {
		if x.PreferredDate.Sub(s.clock()) < s.cfg.CancelNotice {
			return nil, fmt.Errorf("%w: sessions can be cancelled up to %s before the day", ErrTooLate, s.cfg.CancelNotice)
		}
		return s.moveSession(x, Cancelled, reason, Actor{Email: "booker"}, false)
	})
	if err != nil {
		return Session{}, fmt.Errorf("cancel session %s: %w", id, err)
	}
	return x, nil
}

// moveSession applies one status move and describes it; audited says
// whether it is an admin action.
func (s *Service) moveSession(x *Session, to Status, reason string, a Actor, audited bool) ([]Message, error) {
	now := s.clock()
	from := x.Status
	if err := x.move(to, reason, a.Email, now); err != nil {
		return nil, err
	}
	msgs := []Message{{Type: events.TypeSessionStatusChanged, Data: events.SessionStatusChanged{
		Email: x.Email, Name: x.Name, SessionID: x.ID, SessionType: string(x.SessionType),
		PreferredDate: x.PreferredDate.Format(time.DateOnly), PreviousStatus: string(from),
		Status: string(to), Reason: reason, ChangedBy: a.Email, ChangedAt: now, ManageExpires: s.SessionLinkExpiry(*x),
	}}}
	if audited {
		msgs = append(msgs, audit(a, EntitySession, "status_changed", x.ID.String(),
			map[string]any{"status": change{From: from, To: to}, "reason": reason}, now))
	}
	return msgs, nil
}
