// Package route is the gateway's table of DESIGN §2: which service owns
// each documented operation. The table (table_gen.go) is generated from
// the OpenAPI document's x-owner and x-upload (libs/apispec, `make
// generate`); this file holds the hand-written types it is made of.
// Rate-limit tiers are not here: they live in the rate-limit file, keyed
// by Route.Key and generated from x-ratelimit-tier, so operators can
// retune the numbers without a rebuild.
package route

//go:generate sh -c "cd ../../../../tools && go run ./cmd/apigen"

// Owner names the service that answers a route.
type Owner string

// The services behind the gateway, and the gateway itself for the
// operations it serves (Served).
const (
	Booking  Owner = "booking"
	Admin    Owner = "admin"
	Exporter Owner = "exporter"
	Gateway  Owner = "gateway"
)

// AnyMethod matches every HTTP method. The generated table never uses
// it (every route is one documented operation); it stays for tests that
// build their own tables.
const AnyMethod = "*"

// Route is one method and chi path pattern with its owner.
type Route struct {
	Method  string // an HTTP method or AnyMethod
	Pattern string // a chi pattern, e.g. /api/sessions/{id}; the OpenAPI path
	Owner   Owner
	Upload  bool // the body may be as large as an upload, not a JSON form
}

// Key names the route in the rate-limit file and in limiter keys:
// "POST /api/sessions/book". Counters are per client and Key.
func (r Route) Key() string { return r.Method + " " + r.Pattern }
