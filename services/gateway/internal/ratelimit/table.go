package ratelimit

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Table maps every route to its tier. It is immutable once built; a reload
// builds a new one and swaps it in whole.
type Table struct {
	tiers  map[string]*Tier
	routes map[string]*Tier
}

// ForRoute returns the tier of the route key ("POST /api/sessions/book"),
// or nil when the route is not limited.
func (t *Table) ForRoute(key string) *Tier { return t.routes[key] }

// Tier returns the named tier, or nil.
func (t *Table) Tier(name string) *Tier { return t.tiers[name] }

// TierNames lists the tiers, sorted.
func (t *Table) TierNames() []string {
	names := make([]string, 0, len(t.tiers))
	for n := range t.tiers {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Overrides are the environment's changes to the file, applied after it on
// every load, so a SIGHUP never loses them.
type Overrides struct {
	// Windows replaces a tier's windows: tier name to "10/minute,30/hour".
	Windows map[string]string
	// Shadow, when not nil, lists the only tiers in shadow mode.
	Shadow []string
	// OnRedisError sets failure policies: "tier=local|open|closed" items.
	OnRedisError []string
}

// file is the YAML shape of the rate-limit table.
type file struct {
	Tiers map[string]struct {
		Limits       []string `yaml:"limits"`
		OnRedisError string   `yaml:"on_redis_error"`
		Shadow       bool     `yaml:"shadow"`
	} `yaml:"tiers"`
	Routes map[string]string `yaml:"routes"`
}

// Load builds a table from the YAML in data and the overrides, and checks
// it against routeKeys, the routes the gateway serves: every one needs a
// tier and the file may name no other, so a typo cannot leave a route
// unlimited.
func Load(data []byte, ov Overrides, routeKeys []string) (*Table, error) {
	var f file
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("parse rate-limit table: %w", err)
	}
	var errs []error
	policies := map[string]FailurePolicy{}
	for _, item := range ov.OnRedisError {
		name, pol, ok := strings.Cut(item, "=")
		p, err := parseFailurePolicy(pol)
		if !ok || err != nil {
			errs = append(errs, fmt.Errorf("RATELIMIT_ON_REDIS_ERROR item %q: want tier=local|open|closed", item))
			continue
		}
		policies[strings.TrimSpace(name)] = p
	}
	t := &Table{tiers: map[string]*Tier{}, routes: map[string]*Tier{}}
	for name, spec := range f.Tiers {
		limits := strings.Join(spec.Limits, ",")
		if o := ov.Windows[name]; o != "" {
			limits = o
		}
		windows, err := ParseWindows(limits)
		if err != nil {
			errs = append(errs, fmt.Errorf("tier %s: %w", name, err))
			continue
		}
		onErr, err := parseFailurePolicy(spec.OnRedisError)
		if err != nil {
			errs = append(errs, fmt.Errorf("tier %s: %w", name, err))
			continue
		}
		if p, ok := policies[name]; ok {
			onErr = p
		}
		shadow := spec.Shadow
		if ov.Shadow != nil {
			shadow = slices.Contains(ov.Shadow, name)
		}
		tier, err := newTier(name, windows, onErr, shadow)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		t.tiers[name] = tier
	}
	for name := range ov.Windows {
		if _, ok := f.Tiers[name]; !ok && ov.Windows[name] != "" {
			errs = append(errs, fmt.Errorf("override for unknown tier %s", name))
		}
	}
	for name := range policies {
		if _, ok := f.Tiers[name]; !ok {
			errs = append(errs, fmt.Errorf("failure policy for unknown tier %s", name))
		}
	}
	for _, name := range ov.Shadow {
		if _, ok := f.Tiers[name]; !ok {
			errs = append(errs, fmt.Errorf("shadow mode for unknown tier %s", name))
		}
	}
	for key, tierName := range f.Routes {
		if !slices.Contains(routeKeys, key) {
			errs = append(errs, fmt.Errorf("route %q is not a gateway route", key))
			continue
		}
		tier, ok := t.tiers[tierName]
		if !ok {
			if _, declared := f.Tiers[tierName]; !declared {
				errs = append(errs, fmt.Errorf("route %q: unknown tier %s", key, tierName))
			}
			continue
		}
		t.routes[key] = tier
	}
	for _, key := range routeKeys {
		if _, ok := f.Routes[key]; !ok {
			errs = append(errs, fmt.Errorf("route %q has no tier", key))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("rate-limit table: %w", err)
	}
	return t, nil
}
