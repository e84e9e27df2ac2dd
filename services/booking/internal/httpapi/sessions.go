package httpapi

import (
	"net/http"
	"time"

	"github.com/acube/platform/libs/web"
	"github.com/acube/platform/services/booking/internal/booking"
)

// bookRequest is the seed's booking form.
type bookRequest struct {
	Email         string `json:"email"`
	Name          string `json:"name"`
	Phone         string `json:"phone"`
	SessionType   string `json:"session_type"`
	PreferredDate string `json:"preferred_date"`
	Message       string `json:"message"`
}

type sessionResponse struct {
	ID            string `json:"id"`
	Email         string `json:"email"`
	Name          string `json:"name"`
	Phone         string `json:"phone"`
	SessionType   string `json:"session_type"`
	PreferredDate string `json:"preferred_date"`
	Message       string `json:"message"`
	Status        string `json:"status"`
	CreatedAt     string `json:"created_at"`
	UpdatedAt     string `json:"updated_at"`
}

func toSessionResponse(s booking.Session) sessionResponse {
	return sessionResponse{
		ID:            s.ID.String(),
		Email:         s.Email,
		Name:          s.Name,
		Phone:         s.Phone,
		SessionType:   string(s.SessionType),
		PreferredDate: s.PreferredDate.Format(time.DateOnly),
		Message:       s.Message,
		Status:        string(s.Status),
		CreatedAt:     s.CreatedAt.Format(time.RFC3339Nano),
		UpdatedAt:     s.UpdatedAt.Format(time.RFC3339Nano),
	}
}

func (a *API) bookSession(w http.ResponseWriter, r *http.Request) {
	var req bookRequest
	if err := web.Decode(w, r, 32<<10, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	s, err := a.sessions.Book(r.Context(), booking.BookRequest(req))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/sessions/"+s.ID.String())
	web.WriteJSON(w, http.StatusCreated, toSessionResponse(s))
}
