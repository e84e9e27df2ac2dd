// Package route is the gateway's table of DESIGN §2: which service owns
// each public and admin API path. Rate-limit tiers are not here: they live
// in the rate-limit file, keyed by Route.Key, so operators can retune them
// without a rebuild.
package route

// Owner names the service that answers a route.
type Owner string

// The services behind the gateway.
const (
	Booking  Owner = "booking"
	Admin    Owner = "admin"
	Exporter Owner = "exporter"
)

// AnyMethod matches every HTTP method.
const AnyMethod = "*"

// Route is one method and chi path pattern with its owner.
type Route struct {
	Method  string // an HTTP method or AnyMethod
	Pattern string // a chi pattern, e.g. /api/sessions/{id}
	Owner   Owner
	Upload  bool // the body may be as large as an upload, not a JSON form
}

// Key names the route in the rate-limit file and in limiter keys:
// "POST /api/sessions/book". Counters are per client and Key.
func (r Route) Key() string { return r.Method + " " + r.Pattern }

// Table lists every proxied route. Specific routes win over the two
// catch-alls: chi matches static segments before wildcards, so
// POST /api/admin/bulk/export/audit-logs reaches the exporter while
// GET /api/admin/bulk/export/{entity} streams from booking.
func Table() []Route {
	return []Route{
		{Method: "POST", Pattern: "/api/sessions/book", Owner: Booking},
		{Method: "GET", Pattern: "/api/sessions", Owner: Booking},
		{Method: "GET", Pattern: "/api/sessions/{id}", Owner: Booking},
		{Method: "PATCH", Pattern: "/api/sessions/{id}/status", Owner: Booking},
		{Method: "POST", Pattern: "/api/events", Owner: Booking},
		{Method: "GET", Pattern: "/api/events", Owner: Booking},
		{Method: "GET", Pattern: "/api/events/{id}", Owner: Booking},
		{Method: "POST", Pattern: "/api/events/{id}/register", Owner: Booking},
		{Method: "PUT", Pattern: "/api/events/{id}/image", Owner: Booking, Upload: true},
		{Method: "POST", Pattern: "/api/volunteers", Owner: Booking},
		{Method: "GET", Pattern: "/api/volunteers", Owner: Booking},
		{Method: "POST", Pattern: "/api/contact", Owner: Booking},
		{Method: "GET", Pattern: "/api/contact", Owner: Booking},
		{Method: "GET", Pattern: "/api/admin/bulk/export/{entity}", Owner: Booking},
		{Method: "POST", Pattern: "/api/sessions/{id}/cancel", Owner: Booking},
		{Method: "GET", Pattern: "/api/registrations/{id}", Owner: Booking},
		{Method: "POST", Pattern: "/api/registrations/{id}/cancel", Owner: Booking},
		{Method: "GET", Pattern: "/api/events/{id}/image", Owner: Booking},
		{Method: "GET", Pattern: "/api/events/{id}/registrations", Owner: Booking},
		{Method: "PATCH", Pattern: "/api/events/{id}", Owner: Booking},
		{Method: "PATCH", Pattern: "/api/volunteers/{id}/status", Owner: Booking},
		{Method: "PATCH", Pattern: "/api/contact/{id}/status", Owner: Booking},

		{Method: "POST", Pattern: "/api/admin/auth/login", Owner: Admin},
		{Method: "POST", Pattern: "/api/admin/auth/refresh", Owner: Admin},
		{Method: "POST", Pattern: "/api/admin/auth/mfa", Owner: Admin},
		{Method: "POST", Pattern: "/api/admin/auth/mfa/enroll", Owner: Admin},
		{Method: "POST", Pattern: "/api/admin/invitations/accept", Owner: Admin},
		{Method: "POST", Pattern: "/api/admin/me/password", Owner: Admin},
		{Method: "POST", Pattern: "/api/admin/bulk/delete", Owner: Admin},
		{Method: "POST", Pattern: "/api/admin/bulk/status-update", Owner: Admin},

		{Method: "POST", Pattern: "/api/admin/bulk/export/audit-logs", Owner: Exporter},
		{Method: AnyMethod, Pattern: "/api/admin/exports", Owner: Exporter},
		{Method: AnyMethod, Pattern: "/api/admin/exports/*", Owner: Exporter},

		{Method: AnyMethod, Pattern: "/api/admin/*", Owner: Admin},
	}
}
