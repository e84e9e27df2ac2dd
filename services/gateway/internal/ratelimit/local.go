package ratelimit

import (
	"hash/maphash"
	"sync"
	"time"
)

// localShards spreads the in-process counters over locks so concurrent
// requests rarely wait for each other.
const localShards = 64

// Local is the in-process GCRA: the same arithmetic as the Redis script,
// over counters in this replica's memory. It is the fallback while Redis is
// down and the limiter when no Redis is configured.
type Local struct {
	now        func() time.Time
	seed       maphash.Seed
	maxEntries int // per shard
	shards     [localShards]localShard
}

type localShard struct {
	mu      sync.Mutex
	entries map[localKey]*localEntry
	ops     int
}

type localKey struct{ route, client string }

// localEntry holds the theoretical arrival time of each window, in
// nanoseconds since the Unix epoch.
type localEntry struct {
	tats [MaxWindows]int64
}

// NewLocal returns an in-process limiter keeping at most maxEntries
// client/route pairs (the oldest-looking are evicted past that); now is the
// clock, time.Now outside tests.
func NewLocal(now func() time.Time, maxEntries int) *Local {
	if maxEntries <= 0 {
		maxEntries = 1 << 20
	}
	l := &Local{now: now, seed: maphash.MakeSeed(), maxEntries: max(maxEntries/localShards, 1)}
	for i := range l.shards {
		l.shards[i].entries = map[localKey]*localEntry{}
	}
	return l
}

// Allow decides one request of client on route under tier, charging every
// window or none.
func (l *Local) Allow(tier *Tier, route, client string) Decision {
	d := Decision{Tier: tier, Backend: BackendLocal}
	key := localKey{route, client}
	sh := &l.shards[maphash.Comparable(l.seed, key)%localShards]
	now := l.now().UnixNano()

	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.entries[key]
	if e == nil {
		e = &localEntry{}
	}
	var (
		tats, news [MaxWindows]int64
		allowed    = true
	)
	for i, w := range tier.Windows {
		ei := int64(w.emission())
		tat := max(e.tats[i], now)
		tats[i], news[i] = tat, tat+ei
		if now-(news[i]-ei*int64(w.Burst)) < 0 {
			allowed = false
		}
	}
	d.Allowed = allowed
	for i, w := range tier.Windows {
		ei := int64(w.emission())
		diff := now - (news[i] - ei*int64(w.Burst))
		switch {
		case allowed:
			d.Windows[i] = WindowState{Remaining: int(diff / ei), RetryAfter: -1, ResetAfter: time.Duration(news[i] - now)}
		case diff < 0:
			d.Windows[i] = WindowState{Remaining: 0, RetryAfter: time.Duration(-diff), ResetAfter: time.Duration(tats[i] - now)}
		default:
			d.Windows[i] = WindowState{Remaining: min(int(diff/ei)+1, w.Burst), RetryAfter: -1, ResetAfter: time.Duration(tats[i] - now)}
		}
	}
	if allowed {
		copy(e.tats[:], news[:])
		if _, ok := sh.entries[key]; !ok {
			sh.insert(key, e, now, l.maxEntries)
		}
	}
	return d
}

// insert adds an entry, sweeping expired ones every so often and evicting
// one past the cap, so memory stays bounded under a flood of clients.
func (sh *localShard) insert(key localKey, e *localEntry, now int64, maxEntries int) {
	sh.ops++
	if sh.ops >= 1024 || len(sh.entries) >= maxEntries {
		sh.ops = 0
		for k, v := range sh.entries {
			if maxTAT(v) <= now {
				delete(sh.entries, k)
			}
		}
		for k := range sh.entries {
			if len(sh.entries) < maxEntries {
				break
			}
			delete(sh.entries, k) // map order is random: a random eviction
		}
	}
	sh.entries[key] = e
}

func maxTAT(e *localEntry) int64 {
	m := e.tats[0]
	for _, t := range e.tats[1:] {
		m = max(m, t)
	}
	return m
}

// Len is how many client/route pairs are tracked, for tests and metrics.
func (l *Local) Len() int {
	n := 0
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		n += len(sh.entries)
		sh.mu.Unlock()
	}
	return n
}
