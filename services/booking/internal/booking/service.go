package booking

import (
	"time"

	"github.com/acube/platform/libs/managelink"
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
	links  *managelink.Signer
	images Images
	now    func() time.Time
	cfg    Config
}

// NewService returns a Service over store; links signs manage links,
// images keeps event images and now is the clock (time.Now).
func NewService(store Store, links *managelink.Signer, images Images, now func() time.Time, cfg Config) *Service {
	return &Service{store: store, links: links, images: images, now: now, cfg: cfg}
}

func (s *Service) clock() time.Time { return s.now().UTC() }

// SessionLinkExpiry is when a session's manage link stops working: the
// mailer mints the link (libs/managelink) from the session's id and this
// time, which booking puts in the event instead of the link itself.
func (s *Service) SessionLinkExpiry(x Session) time.Time {
	return x.PreferredDate.Add(24*time.Hour + s.cfg.LinkTTL)
}

// RegistrationLinkExpiry is when the manage link of a registration for an
// event ending at ends stops working; see SessionLinkExpiry.
func (s *Service) RegistrationLinkExpiry(ends time.Time) time.Time {
	return ends.Add(s.cfg.LinkTTL)
}
