package booking

import (
	"context"
	"fmt"
	"time"
)

// Service carries out the booking use cases.
type Service struct {
	store Store
	now   func() time.Time
}

// NewService returns a Service over store; now is the clock (time.Now).
func NewService(store Store, now func() time.Time) *Service {
	return &Service{store: store, now: now}
}

// Book validates req and stores the pending session with its
// booking.session.booked event in one transaction.
func (s *Service) Book(ctx context.Context, req BookRequest) (Session, error) {
	session, err := NewSession(req, s.now().UTC())
	if err != nil {
		return Session{}, err
	}
	if err := s.store.Book(ctx, session, Booked(session)); err != nil {
		return Session{}, fmt.Errorf("book session: %w", err)
	}
	return session, nil
}
