package ratelimit

import (
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// counterCache hands out the counters of a CounterVec by small integer
// codes instead of label strings: looking labels up in the vec hashes and
// validates every value on every call, which cost the limiter more than
// deciding itself once most decisions became local. Series are still
// created on first use only.
type counterCache struct {
	vec   *prometheus.CounterVec
	label func(tier string, code int) []string // every label value
	mu    sync.Mutex                           // serialises adding a tier
	tiers atomic.Pointer[map[string]*tierCounters]
}

// counterCodes is how many codes a tier may use: outcome × backend for
// decisions, shortcut reasons for local decisions.
const counterCodes = 8 * 8

type tierCounters [counterCodes]atomic.Pointer[counterRef]

type counterRef struct{ c prometheus.Counter }

func newCounterCache(vec *prometheus.CounterVec, label func(tier string, code int) []string) *counterCache {
	return &counterCache{vec: vec, label: label}
}

// get returns the tier's counter for code.
func (cc *counterCache) get(tier string, code int) prometheus.Counter {
	var tc *tierCounters
	if m := cc.tiers.Load(); m != nil {
		tc = (*m)[tier]
	}
	if tc == nil {
		tc = cc.addTier(tier)
	}
	p := &tc[code]
	if r := p.Load(); r != nil {
		return r.c
	}
	c := cc.vec.WithLabelValues(cc.label(tier, code)...)
	p.Store(&counterRef{c})
	return c
}

// addTier copies the map with the tier added: tiers are few and added
// once, lookups are many and take no lock.
func (cc *counterCache) addTier(tier string) *tierCounters {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	old := map[string]*tierCounters{}
	if m := cc.tiers.Load(); m != nil {
		old = *m
	}
	if tc := old[tier]; tc != nil {
		return tc
	}
	m := make(map[string]*tierCounters, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	tc := new(tierCounters)
	m[tier] = tc
	cc.tiers.Store(&m)
	return tc
}
