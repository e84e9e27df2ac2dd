package export

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/services/exporter/internal/audit"
)

// Links builds the public URLs of an export, which the gateway serves.
type Links struct {
	// Base is the public origin, e.g. http://localhost:8001.
	Base string
}

// Status is the URL that reports an export's progress.
func (l Links) Status(id uuid.UUID) string {
	return strings.TrimRight(l.Base, "/") + "/api/admin/exports/" + url.PathEscape(id.String())
}

// Download is the URL of an export's file; it needs an admin token.
func (l Links) Download(id uuid.UUID) string {
	return l.Status(id) + "/download"
}

// Service carries out the export use cases an administrator calls.
type Service struct {
	store Store
	now   func() time.Time
	wake  func()
}

// NewService returns a Service. wake is called after an export is queued,
// to start a local worker at once (other replicas find it by polling).
func NewService(store Store, now func() time.Time, wake func()) *Service {
	return &Service{store: store, now: now, wake: wake}
}

// Request queues an export of the records matching f for admin, and
// records the request in the audit trail.
func (s *Service) Request(ctx context.Context, admin Admin, clientIP string, f audit.Filter) (Export, error) {
	if admin.ID == "" || admin.Email == "" {
		return Export{}, errors.New("request export: the admin's id and e-mail are required")
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Export{}, fmt.Errorf("request export: new id: %w", err)
	}
	now := s.now().UTC()
	e := Export{ID: id, Admin: admin, Filter: f, Status: Queued, File: NewFileName(), CreatedAt: now}
	changes, err := json.Marshal(map[string]any{"filters": f})
	if err != nil {
		return Export{}, fmt.Errorf("request export: encode filters: %w", err)
	}
	requested := events.AuditRecord{
		ActorID: admin.ID, ActorEmail: admin.Email, Action: "export", Entity: "audit_log",
		EntityID: id.String(), ClientIP: clientIP, Changes: changes, OccurredAt: now,
	}
	if err := s.store.Create(ctx, e, requested); err != nil {
		return Export{}, fmt.Errorf("request export: %w", err)
	}
	s.wake()
	return e, nil
}

// Get returns an export as its status URL shows it: ErrNotFound once it
// has expired.
func (s *Service) Get(ctx context.Context, id uuid.UUID) (Export, error) {
	e, err := s.store.Get(ctx, id)
	if err != nil {
		return Export{}, fmt.Errorf("get export %s: %w", id, err)
	}
	if e.Expired(s.now()) {
		return Export{}, fmt.Errorf("get export %s: expired: %w", id, ErrNotFound)
	}
	return e, nil
}

// List returns a page of at most limit exports, newest first, expired
// ones left out, starting after the key after (nil: the first page). next
// is the key to pass for the page after this one, nil when this is the
// last: one more row than asked for is read to know.
func (s *Service) List(ctx context.Context, after *Key, limit int) (page []Export, next *Key, err error) {
	if limit < 1 {
		return nil, nil, fmt.Errorf("list exports: limit %d is not positive", limit)
	}
	all, err := s.store.List(ctx, after, s.now(), limit+1)
	if err != nil {
		return nil, nil, fmt.Errorf("list exports: %w", err)
	}
	if len(all) > limit {
		all = all[:limit]
		k := all[limit-1].Key()
		next = &k
	}
	return all, next, nil
}

// Download returns a completed export whose file (Export.File) may be
// downloaded; the transport streams the file from the bucket. A queued or
// running export is ErrNotReady, a failed one ErrFailed (with the export,
// whose Error says why), an expired one ErrNotFound.
func (s *Service) Download(ctx context.Context, id uuid.UUID) (Export, error) {
	e, err := s.Get(ctx, id)
	if err != nil {
		return Export{}, err
	}
	switch {
	case e.Status == Failed:
		return e, fmt.Errorf("download export %s: %w", id, ErrFailed)
	case e.Status == Queued || e.Status == Running:
		return e, fmt.Errorf("download export %s: %w", id, ErrNotReady)
	case !IsFile(e.File):
		return Export{}, fmt.Errorf("download export %s: file %q: %w", id, e.File, ErrBadName)
	}
	return e, nil
}
