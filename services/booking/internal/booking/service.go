package booking

import (
	"net/url"
	"time"

	"github.com/acube/platform/services/booking/internal/link"
)

// Config holds the rules the use cases need from configuration.
type Config struct {
	// PublicBaseURL prefixes the manage links in emails, e.g.
	// http://localhost:8001 (the gateway).
	PublicBaseURL string
	// LinkTTL is how long a manage link keeps working after the session
	// day or the event's end, so a booker can still look it up.
	LinkTTL time.Duration
	// CancelNotice is how long before the session day a booker may still
	// cancel through the manage link.
	CancelNotice time.Duration
}

// Service carries out the booking use cases.
type Service struct {
	store  Store
	links  *link.Signer
	images Images
	now    func() time.Time
	cfg    Config
}

// NewService returns a Service over store; links signs manage links,
// images keeps event images and now is the clock (time.Now).
func NewService(store Store, links *link.Signer, images Images, now func() time.Time, cfg Config) *Service {
	return &Service{store: store, links: links, images: images, now: now, cfg: cfg}
}

func (s *Service) clock() time.Time { return s.now().UTC() }

// manageURL is the absolute link that opens a record of kind with token.
func (s *Service) manageURL(path, token string) string {
	return s.cfg.PublicBaseURL + path + "?token=" + url.QueryEscape(token)
}

// sessionLinkExpiry is when a session's manage link stops working.
func (s *Service) sessionLinkExpiry(x Session) time.Time {
	return x.PreferredDate.Add(24*time.Hour + s.cfg.LinkTTL)
}

// SessionManageURL is the manage link of x, as sent in its emails.
func (s *Service) SessionManageURL(x Session) string {
	id := x.ID.String()
	return s.manageURL("/api/sessions/"+id, s.links.Sign(link.KindSession, id, s.sessionLinkExpiry(x)))
}

// RegistrationManageURL is the manage link of r for an event ending at ends.
func (s *Service) RegistrationManageURL(r Registration, ends time.Time) string {
	id := r.ID.String()
	return s.manageURL("/api/registrations/"+id, s.links.Sign(link.KindRegistration, id, ends.Add(s.cfg.LinkTTL)))
}
