package httpapi

import (
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/acube/platform/libs/web"
	"github.com/acube/platform/services/admin/internal/deadletter"
)

type letterPage struct {
	Items     []deadletter.Letter `json:"items"`
	NextAfter uint64              `json:"next_after,omitempty"`
}

// listDeadLetters serves GET /api/admin/dead-letters?consumer=&after=&limit=.
func (a *API) listDeadLetters(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	bad := map[string]string{}
	limit := 50
	var after uint64
	var err error
	if s := q.Get("limit"); s != "" {
		if limit, err = strconv.Atoi(s); err != nil || limit < 1 || limit > 200 {
			bad["limit"] = "must be 1 to 200"
		}
	}
	if s := q.Get("after"); s != "" {
		if after, err = strconv.ParseUint(s, 10, 64); err != nil {
			bad["after"] = "must be a stream sequence"
		}
	}
	if len(bad) > 0 {
		a.fail(w, r, web.Invalid(bad))
		return
	}
	items, next, err := a.d.DeadLetters.List(r.Context(), q.Get("consumer"), after, limit)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, letterPage{Items: items, NextAfter: next})
}

func (a *API) seq(w http.ResponseWriter, r *http.Request) (uint64, bool) {
	seq, err := strconv.ParseUint(chi.URLParam(r, "seq"), 10, 64)
	if err != nil || seq == 0 {
		a.fail(w, r, web.NotFound("no dead letter "+chi.URLParam(r, "seq")))
		return 0, false
	}
	return seq, true
}

func (a *API) dlActor(r *http.Request) deadletter.Actor {
	act := a.actor(r)
	return deadletter.Actor{ID: act.ID, Email: act.Email, ClientIP: act.ClientIP}
}

func (a *API) getDeadLetter(w http.ResponseWriter, r *http.Request) {
	seq, ok := a.seq(w, r)
	if !ok {
		return
	}
	l, err := a.d.DeadLetters.Get(r.Context(), seq)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, l)
}

func (a *API) replayDeadLetter(w http.ResponseWriter, r *http.Request) {
	seq, ok := a.seq(w, r)
	if !ok {
		return
	}
	l, msgID, err := a.d.DeadLetters.Replay(r.Context(), a.dlActor(r), seq)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.d.Metrics.DeadLetter("replay")
	web.WriteJSON(w, http.StatusAccepted, map[string]any{"seq": l.Seq, "replayed_to": l.OriginalSubject,
		"message_id": msgID.String(), "event_id": l.EventID})
}

func (a *API) discardDeadLetter(w http.ResponseWriter, r *http.Request) {
	seq, ok := a.seq(w, r)
	if !ok {
		return
	}
	if _, err := a.d.DeadLetters.Discard(r.Context(), a.dlActor(r), seq); err != nil {
		a.fail(w, r, err)
		return
	}
	a.d.Metrics.DeadLetter("discard")
	w.WriteHeader(http.StatusNoContent)
}
