package httpapi

import (
	"maps"
	"net/http"
	"strings"
	"time"

	"github.com/acube/platform/libs/keyset"
	"github.com/acube/platform/libs/web"
	"github.com/acube/platform/services/admin/internal/audit"
)

type auditPage struct {
	Items      []audit.Entry `json:"items"`
	NextCursor string        `json:"next_cursor,omitempty"`
}

// auditLogs serves GET /api/admin/audit-logs?admin=&actor_id=&actor_email=
// &action=&entity=&entity_id=&from=&to=&limit=&cursor=, newest first.
func (a *API) auditLogs(w http.ResponseWriter, r *http.Request) {
	f, err := parseAuditFilter(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	items, next, err := a.d.Audit.Query(r.Context(), f)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	page := auditPage{Items: items}
	if next != nil {
		page.NextCursor = next.Encode()
	}
	web.WriteJSON(w, http.StatusOK, page)
}

func parseAuditFilter(r *http.Request) (audit.Filter, error) {
	q := r.URL.Query()
	f := audit.Filter{ActorID: q.Get("actor_id"), ActorEmail: strings.ToLower(q.Get("actor_email")),
		Action: q.Get("action"), Entity: q.Get("entity"), EntityID: q.Get("entity_id")}
	if admin := q.Get("admin"); admin != "" {
		if strings.Contains(admin, "@") {
			f.ActorEmail = strings.ToLower(admin)
		} else {
			f.ActorID = admin
		}
	}
	bad := map[string]string{}
	var err error
	if f.From, err = parseTime(q.Get("from"), false); err != nil {
		bad["from"] = "must be an RFC 3339 time or a YYYY-MM-DD date"
	}
	if f.To, err = parseTime(q.Get("to"), true); err != nil {
		bad["to"] = "must be an RFC 3339 time or a YYYY-MM-DD date"
	}
	var problems map[string]string
	f.Limit, f.After, problems = keyset.Query(q)
	maps.Copy(bad, problems)
	if len(bad) > 0 {
		return audit.Filter{}, web.Invalid(bad)
	}
	return f, nil
}

// parseTime reads an RFC 3339 time or a date; a date given as the end of
// a range includes that whole day.
func parseTime(s string, end bool) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, err
	}
	if end {
		d = d.AddDate(0, 0, 1)
	}
	return d, nil
}
