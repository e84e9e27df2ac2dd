package booking

import (
	"context"
	"fmt"

	"github.com/google/uuid"
)

// Images keeps event cover images, one per event, outside the database,
// where every replica reaches them (package images: an Object Store
// bucket).
type Images interface {
	// Save stores data, of the sniffed contentType, as the image of
	// event id, replacing any other.
	Save(ctx context.Context, id uuid.UUID, data []byte, contentType string) error
	// Remove deletes the image of event id, if any.
	Remove(ctx context.Context, id uuid.UUID) error
}

// SetEventImage stores an admin's cover image for an event. contentType
// is what the content was sniffed as, never what the client claimed.
func (s *Service) SetEventImage(ctx context.Context, a Actor, id uuid.UUID, data []byte, contentType string) (Event, error) {
	e, err := s.store.UpdateEvent(ctx, id, func(e *Event, _ Waitlist, _ Registrants) ([]Message, error) {
		// Written before the row commits: should the commit fail, the
		// image is served anyway (with the type stored beside it, checked
		// again when served) and the admin's retry overwrites it.
		if err := s.images.Save(ctx, e.ID, data, contentType); err != nil {
			return nil, err
		}
		now := s.clock()
		prev := e.ImageType
		e.ImageType, e.ImageSize, e.UpdatedAt = contentType, int64(len(data)), now
		updated := EventImageUpdated{EventID: e.ID, ContentType: contentType, Size: e.ImageSize,
			ImageURL: s.cfg.PublicBaseURL + "/api/events/" + e.ID.String() + "/image"}
		return []Message{
			{Type: TypeEventImageUpdated, Data: updated},
			audit(a, EntityEvent, "image_updated", e.ID.String(),
				map[string]any{"image": change{From: prev, To: contentType}, "size": e.ImageSize}, now),
		}, nil
	})
	if err != nil {
		return Event{}, fmt.Errorf("set image of event %s: %w", id, err)
	}
	return e, nil
}
