package ratelimit

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/acube/platform/services/gateway"
	"github.com/acube/platform/services/gateway/internal/route"
)

func routeKeys() []string {
	var keys []string
	for _, r := range route.Table() {
		keys = append(keys, r.Key())
	}
	return keys
}

// TestDefaultTableIsDesign checks the built-in file against DESIGN §2: the
// seed's numbers, both windows, and the tier of every route.
func TestDefaultTableIsDesign(t *testing.T) {
	t.Parallel()
	table, err := Load(gateway.DefaultRateLimits(), Overrides{}, routeKeys())
	if err != nil {
		t.Fatal(err)
	}
	tiers := []struct {
		tier   string
		minute int
		hour   int
	}{{"public", 10, 30}, {"admin", 60, 1000}, {"auth", 5, 20}, {"upload", 10, 50}, {"export", 5, 20}}
	for _, tt := range tiers {
		tier := table.Tier(tt.tier)
		if tier == nil {
			t.Fatalf("tier %s missing", tt.tier)
		}
		got := []Window{tier.Windows[0], tier.Windows[1]}
		if len(tier.Windows) != 2 || got[0].Rate != tt.minute || got[0].Period != time.Minute || got[1].Rate != tt.hour || got[1].Period != time.Hour {
			t.Errorf("tier %s windows = %+v, want %d/minute and %d/hour", tt.tier, tier.Windows, tt.minute, tt.hour)
		}
		if tier.OnRedisError != FailLocal || tier.Shadow {
			t.Errorf("tier %s: policy %s shadow %v, want local and not shadow", tt.tier, tier.OnRedisError, tier.Shadow)
		}
	}
	routes := []struct {
		key, tier string
	}{
		{"POST /api/sessions/book", "public"},
		{"GET /api/sessions/{id}", "public"},
		{"PATCH /api/sessions/{id}/status", "public"},
		{"POST /api/events/{id}/register", "public"},
		{"GET /api/contact", "public"},
		{"POST /api/admin/auth/login", "auth"},
		{"POST /api/admin/auth/refresh", "auth"},
		{"POST /api/admin/bulk/delete", "admin"},
		{"POST /api/admin/bulk/status-update", "admin"},
		{"GET /api/admin/bulk/export/{entity}", "export"},
		{"POST /api/admin/bulk/export/audit-logs", "export"},
		{"PUT /api/events/{id}/image", "upload"},
		{"GET /api/admin/exports", "admin"},
	}
	for _, tt := range routes {
		if got := table.ForRoute(tt.key); got == nil || got.Name != tt.tier {
			t.Errorf("route %s: tier %v, want %s", tt.key, got, tt.tier)
		}
	}
	if got := table.TierNames(); !slices.Equal(got, []string{"admin", "auth", "export", "public", "upload"}) {
		t.Errorf("TierNames() = %v", got)
	}
}

func TestLoadOverrides(t *testing.T) {
	t.Parallel()
	ov := Overrides{
		Windows:      map[string]string{"public": "3/minute", "auth": ""},
		Shadow:       []string{"export"},
		OnRedisError: []string{"auth=closed", "export = open"},
	}
	table, err := Load(gateway.DefaultRateLimits(), ov, routeKeys())
	if err != nil {
		t.Fatal(err)
	}
	if w := table.Tier("public").Windows; len(w) != 1 || w[0].Rate != 3 {
		t.Errorf("public windows = %+v, want 3/minute only", w)
	}
	if w := table.Tier("auth").Windows; len(w) != 2 || w[0].Rate != 5 {
		t.Errorf("auth windows = %+v, want the file's", w)
	}
	if got := table.Tier("auth").OnRedisError; got != FailClosed {
		t.Errorf("auth policy = %s, want closed", got)
	}
	if got := table.Tier("export").OnRedisError; got != FailOpen {
		t.Errorf("export policy = %s, want open", got)
	}
	if !table.Tier("export").Shadow || table.Tier("public").Shadow {
		t.Error("shadow override: want export only")
	}
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	base := string(gateway.DefaultRateLimits())
	tests := []struct {
		name    string
		yaml    string
		ov      Overrides
		wantErr string
	}{
		{name: "unknown route", yaml: base + "  GET /api/nothing: public\n", wantErr: `route "GET /api/nothing" is not a gateway route`},
		{name: "route without tier", yaml: regexp.MustCompile(`(?m)^  POST /api/contact: .*\n`).ReplaceAllString(base, ""), wantErr: `route "POST /api/contact" has no tier`},
		{name: "unknown tier", yaml: strings.Replace(base, "POST /api/contact: public", "POST /api/contact: pubic", 1), wantErr: "unknown tier pubic"},
		{name: "bad limit", yaml: strings.Replace(base, "[10/minute, 30/hour]", "[10/fortnight]", 1), wantErr: "unknown period"},
		{name: "bad policy", yaml: strings.Replace(base, "on_redis_error: local", "on_redis_error: maybe", 1), wantErr: "want local, open or closed"},
		{name: "unknown field", yaml: strings.Replace(base, "on_redis_error: local", "on_redis_eror: local", 1), wantErr: "on_redis_eror"},
		{name: "override unknown tier", yaml: base, ov: Overrides{Windows: map[string]string{"vip": "1/minute"}}, wantErr: "unknown tier vip"},
		{name: "bad policy override", yaml: base, ov: Overrides{OnRedisError: []string{"auth"}}, wantErr: "want tier=local|open|closed"},
		{name: "shadow unknown tier", yaml: base, ov: Overrides{Shadow: []string{"vip"}}, wantErr: "shadow mode for unknown tier vip"},
		{name: "not yaml", yaml: "tiers: [", wantErr: "parse rate-limit table"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load([]byte(tt.yaml), tt.ov, routeKeys())
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Load error = %v, want it to mention %q", err, tt.wantErr)
			}
		})
	}
}
