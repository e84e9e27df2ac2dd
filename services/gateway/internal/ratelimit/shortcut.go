package ratelimit

import (
	"hash/maphash"
	"sync"
	"time"
)

// Shortcut says how a Redis-backed decision was made without a round trip
// of its own.
type Shortcut uint8

// The shortcuts.
const (
	// ShortcutNone: Redis decided this request itself.
	ShortcutNone Shortcut = iota
	// ShortcutNegativeCache: Redis refused the key moments ago and said
	// until when; the refusal is repeated locally, counting down.
	ShortcutNegativeCache
	// ShortcutLease: served from tokens an earlier round trip took from
	// Redis (and charged there) for this key.
	ShortcutLease
)

// String names the shortcut for metrics: "", "negative_cache", "lease".
func (s Shortcut) String() string {
	return [...]string{"", "negative_cache", "lease"}[s]
}

// shortcuts remembers, per route and client, what Redis last said that
// lets later decisions skip it: a refusal and its end, or leased tokens.
// Both are exact consequences of GCRA on shared TATs: a refusal charges
// nothing and other replicas can only push a TAT later, so a key Redis
// refused stays refused at least RetryAfter; leased tokens were charged in
// Redis before any is spent. It is sharded and bounded like Local.
type shortcuts struct {
	seed       maphash.Seed
	epoch      time.Time
	leaseMax   int
	leaseTTL   int64 // nanoseconds
	negative   bool
	maxEntries int // per shard
	shards     [localShards]shortcutShard
}

type shortcutShard struct {
	mu      sync.Mutex
	entries map[localKey]*shortcutEntry
	ops     int
}

// shortcutEntry is one key's shortcuts. Times are nanoseconds since the
// cache's epoch on the monotonic clock.
type shortcutEntry struct {
	sig string // the tier's numbers when this was stored

	// windows are what Redis said at saidAt: the refusal while
	// refusedUntil is ahead, else the state right after the lease.
	windows [MaxWindows]WindowState
	saidAt  int64

	// negative cache: refused until refusedUntil.
	refusedUntil int64

	// lease: tokens left until leaseUntil; lastGrant is the size of the
	// last lease, from which the next is fetched ahead (refillAt).
	tokens     int
	leaseUntil int64
	lastGrant  int

	// demand sizes the next lease: decisions served since askedAt, the
	// last time this key went to Redis; pending is what the round trips
	// in flight asked for.
	askedAt int64
	served  int
	pending int
}

func newShortcuts(leaseMax int, leaseTTL time.Duration, negative bool, maxEntries int) *shortcuts {
	if maxEntries <= 0 {
		maxEntries = 1 << 16
	}
	s := &shortcuts{
		seed: maphash.MakeSeed(), epoch: time.Now(),
		leaseMax: leaseMax, leaseTTL: int64(leaseTTL), negative: negative,
		maxEntries: max(maxEntries/localShards, 1),
	}
	for i := range s.shards {
		s.shards[i].entries = map[localKey]*shortcutEntry{}
	}
	return s
}

func (s *shortcuts) now() int64 { return int64(time.Since(s.epoch)) }

// leaseCap is the largest lease the tier may take here, 0 or 1 meaning
// the tier is decided in Redis one request at a time.
func (s *shortcuts) leaseCap(tier *Tier) int {
	if s.leaseMax < 2 || !tier.Leasable() {
		return 0
	}
	return min(tier.leaseCap, s.leaseMax)
}

// lookup decides locally when it can (ok), filling d; otherwise it returns
// how many tokens the round trip should ask for (1 unless leasing). A
// local decision with ask > 0 spent a lease down to its refill mark: the
// caller fetches the next lease of ask tokens in the background (refill),
// so a busy key's requests do not all wait for Redis whenever a lease
// runs out.
func (s *shortcuts) lookup(tier *Tier, route, client string, now int64, d *Decision) (ok bool, ask int) {
	key := localKey{route, client}
	sh := &s.shards[maphash.Comparable(s.seed, key)%localShards]
	capN := s.leaseCap(tier)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.entries[key]
	if e != nil && e.sig != tier.sig {
		delete(sh.entries, key)
		e = nil
	}
	if e != nil && now < e.refusedUntil {
		d.Allowed, d.Shortcut = false, ShortcutNegativeCache
		elapsed := time.Duration(now - e.saidAt)
		for i := range tier.Windows {
			w := e.windows[i]
			if w.RetryAfter >= 0 {
				if w.RetryAfter -= elapsed; w.RetryAfter <= 0 {
					w.RetryAfter = -1 // this window allows again; another still refuses
				}
			}
			w.ResetAfter = max(w.ResetAfter-elapsed, 0)
			d.Windows[i] = w
		}
		return true, 0
	}
	if capN < 2 {
		return false, 1
	}
	if e != nil && e.tokens > 0 && now < e.leaseUntil {
		e.tokens--
		e.served++
		d.Allowed, d.Shortcut = true, ShortcutLease
		elapsed := time.Duration(now - e.saidAt)
		for i := range tier.Windows {
			w := e.windows[i]
			w.Remaining += e.tokens
			w.ResetAfter = max(w.ResetAfter-elapsed, 0)
			d.Windows[i] = w
		}
		if e.pending == 0 && e.tokens <= e.lastGrant/2 {
			ask = min(max(e.demand(now, s.leaseTTL), 2), capN)
			e.pending += ask
			e.askedAt, e.served = now, 0
		}
		return true, ask
	}
	if e == nil {
		e = &shortcutEntry{sig: tier.sig, askedAt: now}
		sh.insert(key, e, now, s.maxEntries)
		ask = 1 // no history: a client seen once gets one token
	} else {
		ask = e.demand(now, s.leaseTTL)
	}
	e.tokens = 0 // expired tokens are not spent
	ask = min(max(ask-e.pending, 1), capN)
	e.pending += ask
	e.askedAt, e.served = now, 0
	return false, ask
}

// demand projects the key's decisions over one lease TTL from those served
// since it last asked Redis (plus the one asking now).
func (e *shortcutEntry) demand(now, ttl int64) int {
	n := int64(e.served + 1)
	elapsed := now - e.askedAt
	if elapsed >= ttl {
		return int(n) // slower than one lease per TTL: no more than was used
	}
	if elapsed <= 0 || n > (1<<62)/ttl {
		return 1 << 30
	}
	return int((n*ttl + elapsed - 1) / elapsed)
}

// record stores what Redis said about a request asked at now for ask
// tokens; granted is how many it gave (0 refused). err means Redis did not
// answer: only the pending count is settled.
func (s *shortcuts) record(tier *Tier, route, client string, now int64, ask, granted int, d *Decision, failed bool) {
	capN := s.leaseCap(tier)
	if capN < 2 && (failed || d.Allowed || !s.negative) {
		return // nothing to remember, nothing pending
	}
	key := localKey{route, client}
	sh := &s.shards[maphash.Comparable(s.seed, key)%localShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.entries[key]
	if e != nil && e.sig != tier.sig {
		delete(sh.entries, key)
		e = nil
	}
	if e != nil && capN >= 2 {
		e.pending = max(e.pending-ask, 0)
	}
	if failed {
		return
	}
	if !d.Allowed {
		if !s.negative {
			return
		}
		// Redis decided at its TIME, after now: counting from now ends
		// the refusal no later than Redis would.
		b := d.Blocking()
		until := now + int64(d.Windows[b].RetryAfter)
		if d.Windows[b].RetryAfter <= 0 {
			return
		}
		if e == nil {
			e = &shortcutEntry{sig: tier.sig, askedAt: now}
			sh.insert(key, e, now, s.maxEntries)
		}
		e.refusedUntil, e.saidAt = until, now
		copy(e.windows[:], d.Windows[:len(tier.Windows)])
		e.tokens = 0
		return
	}
	if granted < 2 || e == nil {
		return
	}
	e.tokens += granted - 1
	e.lastGrant = granted
	e.leaseUntil, e.saidAt, e.refusedUntil = now+s.leaseTTL, now, 0
	copy(e.windows[:], d.Windows[:len(tier.Windows)])
	for i := range tier.Windows {
		d.Windows[i].Remaining += e.tokens
	}
}

// recordRefill stores what Redis said about a lease fetched ahead (no
// request waiting for it) of ask tokens asked at now: the granted tokens
// join those left. A refusal or a failure leaves the tokens held (they
// were charged already); the next request past them asks Redis itself.
func (s *shortcuts) recordRefill(tier *Tier, route, client string, now int64, ask, granted int, d *Decision, failed bool) {
	key := localKey{route, client}
	sh := &s.shards[maphash.Comparable(s.seed, key)%localShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.entries[key]
	if e == nil || e.sig != tier.sig {
		return
	}
	e.pending = max(e.pending-ask, 0)
	if failed || !d.Allowed || granted < 1 {
		return
	}
	e.tokens += granted
	e.lastGrant = granted
	e.leaseUntil, e.saidAt = now+s.leaseTTL, now
	copy(e.windows[:], d.Windows[:len(tier.Windows)])
}

// insert adds an entry, sweeping spent ones every so often and evicting
// one past the cap, so memory stays bounded under a flood of clients.
func (sh *shortcutShard) insert(key localKey, e *shortcutEntry, now int64, maxEntries int) {
	sh.ops++
	if sh.ops >= 1024 || len(sh.entries) >= maxEntries {
		sh.ops = 0
		for k, v := range sh.entries {
			if v.spent(now) {
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

// spent reports whether the entry holds nothing worth keeping: no refusal
// running, no live tokens, nothing in flight, and no recent demand.
func (e *shortcutEntry) spent(now int64) bool {
	return now >= e.refusedUntil && (e.tokens == 0 || now >= e.leaseUntil) && e.pending == 0 &&
		now-e.askedAt >= int64(10*time.Second)
}

// len is how many keys are tracked, for tests.
func (s *shortcuts) len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += len(sh.entries)
		sh.mu.Unlock()
	}
	return n
}
