package httpapi

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/acube/platform/libs/keyset"
	"github.com/acube/platform/libs/web"
	"github.com/acube/platform/services/admin/internal/deadletter"
)

type letterPage struct {
	Items      []deadletter.Letter `json:"items"`
	NextCursor string              `json:"next_cursor,omitempty"`
	// NextAfter is next_cursor's sequence, for clients of ?after=
	// (deprecated in the document).
	NextAfter uint64 `json:"next_after,omitempty"`
}

// letterCursor is the opaque cursor of the dead-letter list: the last
// sequence of a page.
type letterCursor struct{ seq uint64 }

func (c letterCursor) encode() string {
	return base64.RawURLEncoding.EncodeToString([]byte("dl:" + strconv.FormatUint(c.seq, 10)))
}

func parseLetterCursor(s string) (*letterCursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, err
	}
	n, ok := strings.CutPrefix(string(raw), "dl:")
	if !ok {
		return nil, errors.New("not a dead-letter cursor")
	}
	seq, err := strconv.ParseUint(n, 10, 64)
	if err != nil || seq == 0 {
		return nil, errors.New("not a dead-letter cursor")
	}
	return &letterCursor{seq: seq}, nil
}

// listDeadLetters serves GET /api/admin/dead-letters?consumer=&limit=
// &cursor= (and the deprecated &after=), oldest first.
func (a *API) listDeadLetters(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	bad := map[string]string{}
	limit, problem := keyset.Limit(q)
	if problem != "" {
		bad["limit"] = problem
	}
	var after uint64
	if s := q.Get("cursor"); s != "" { // empty: the first page, as in every list
		c, err := parseLetterCursor(s)
		if err != nil {
			bad["cursor"] = keyset.CursorProblem
		} else {
			after = c.seq
		}
	}
	if s := q.Get("after"); s != "" {
		var err error
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
	page := letterPage{Items: items}
	if next != 0 {
		page.NextCursor, page.NextAfter = letterCursor{seq: next}.encode(), next
	}
	web.WriteJSON(w, http.StatusOK, page)
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
