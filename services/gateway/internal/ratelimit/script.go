package ratelimit

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/redis/go-redis/v9"
)

// gcraScript is go-redis/redis_rate v10's GCRA (allowN) generalised three
// times: to N windows per request, all computed before any is stored, so a
// request refused by one window charges none; to many requests per call,
// so concurrent decisions share one round trip; and to "grant up to n": a
// request with cost n is granted the largest k ≤ n every window allows and
// charged k, or refused (k = 0, charging nothing) when not even one fits.
// A cost of 1 is exactly redis_rate's allow. Larger costs take leases.
// Requests in a batch run in order, each seeing the previous ones'
// charges, exactly as if they had arrived one by one.
//
// One key per request holds every window's TAT, packed as little-endian
// doubles (window order), with the TTL of the longest reset: one MGET key
// and one SET per decision, whatever its windows. A key's TATs are read
// up front with MGET (a call from Lua costs more than the command), and
// each tier's numbers are parsed once per call, not once per request.
//
// KEYS: one per request. ARGV[1]: the number of tiers T; then per tier:
// windows n and per window burst, rate, period in seconds; then one
// string of three bytes per request: its tier (0-based, in ARGV order)
// and its cost (big-endian, ≤ maxLease).
// Returns one string: the script's now (a little-endian double, seconds
// since 2017), then per request two bytes, the tokens granted
// (big-endian, 0 refused), and its windows' TATs after the charge (what
// it stored, or found when refused). From those decodeDecision computes, in the same arithmetic,
// the remaining, retry_after and reset_after redis_rate returns for each
// window: work taken off Redis, whose one thread every replica shares.
var gcraScript = redis.NewScript(`
-- this script has side-effects, so it requires replicate commands mode
redis.replicate_commands()

-- the epoch adjustment of redis_rate keeps microseconds exact in a double
local jan_1_2017 = 1483228800
local t = redis.call("TIME")
local now = (t[1] - jan_1_2017) + (t[2] / 1000000)

-- every tier of the call, parsed once: per window ei (emission interval),
-- burst and ei*burst (redis_rate's burst_offset); fmt packs its TATs
local tiers = {}
local a = 2
for i = 1, tonumber(ARGV[1]) do
  local nwin = tonumber(ARGV[a])
  local tier = {nwin = nwin, eis = {}, bursts = {}, offs = {}, fmt = "<" .. string.rep("d", nwin)}
  a = a + 1
  for w = 1, nwin do
    local burst = tonumber(ARGV[a])
    local ei = tonumber(ARGV[a + 2]) / tonumber(ARGV[a + 1])
    tier.eis[w], tier.bursts[w], tier.offs[w] = ei, burst, ei * burst
    a = a + 3
  end
  tiers[i] = tier
end
local reqs = ARGV[a]

-- fits reports whether cost c fits every window, redis_rate's exact test
local function fits(c, tier, tats)
  for w = 1, tier.nwin do
    if now - (tats[w] + tier.eis[w] * c - tier.offs[w]) < 0 then
      return false
    end
  end
  return true
end

-- every stored value in a few MGETs rather than one GET per key: calls
-- from Lua cost more than the commands themselves. cur holds what this
-- call stored, for keys a batch holds more than once.
local stored, cur = {}, {}
for i = 1, #KEYS, 1000 do
  local part = redis.call("MGET", unpack(KEYS, i, math.min(i + 999, #KEYS)))
  for j = 1, #part do
    stored[i + j - 1] = part[j]
  end
end

local out = {}
-- per window of the request at hand, reused across requests
local tats = {}
for r = 1, #KEYS do
  local ti, hi, lo = string.byte(reqs, 3 * r - 2, 3 * r)
  local want = hi * 256 + lo
  local tier = tiers[ti + 1]
  local nwin, eis, bursts, offs = tier.nwin, tier.eis, tier.bursts, tier.offs
  local key = KEYS[r]
  local packed = cur[key] or stored[r]
  if packed and #packed == 8 * nwin then
    local got = {struct.unpack(tier.fmt, packed)}
    for w = 1, nwin do
      tats[w] = math.max(got[w], now)
    end
  else
    -- no key (or one this layout did not write): every window is full
    for w = 1, nwin do
      tats[w] = now
    end
  end
  local grant = want
  if want == 1 then
    -- one request: redis_rate's test, nothing more
    for w = 1, nwin do
      if now - (tats[w] + eis[w] - offs[w]) < 0 then
        grant = 0
      end
    end
  else
    -- the most each window allows: cost c fits while now - (tat + ei*c - ei*burst) >= 0
    for w = 1, nwin do
      local fit = math.floor((now - tats[w]) / eis[w] + bursts[w])
      if fit < grant then
        grant = fit
      end
    end
    -- settle float rounding with the exact test redis_rate uses
    if grant < 0 then
      grant = 0
    end
    while grant > 0 and not fits(grant, tier, tats) do
      grant = grant - 1
    end
    if grant < want and fits(grant + 1, tier, tats) then
      grant = grant + 1
    end
  end
  if grant > 0 then
    local longest = 0
    for w = 1, nwin do
      local new = tats[w] + eis[w] * grant
      if new - now > longest then
        longest = new - now
      end
      tats[w] = new
    end
    packed = struct.pack(tier.fmt, unpack(tats, 1, nwin))
    if longest > 0 then
      -- every new TAT is past now (grant ≥ 1), so every window is stored
      redis.call("SET", key, packed, "EX", math.ceil(longest))
      cur[key] = packed
    end
  else
    packed = struct.pack(tier.fmt, unpack(tats, 1, nwin))
  end
  out[2 * r - 1], out[2 * r] = string.char(math.floor(grant / 256), grant % 256), packed
end
return struct.pack("<d", now) .. table.concat(out)
`)

// errShortReply means the script's answer does not match the batch.
var errShortReply = errors.New("rate-limit script: reply shorter than the batch")

// decodeDecision reads one request's verdict from the script's reply
// starting at off and returns the offset after it. now is the script's
// clock (the reply's first 8 bytes).
func decodeDecision(reply string, off int, now float64, d *Decision) (int, error) {
	n := len(d.Tier.Windows)
	if len(reply)-off < grantBytes+8*n {
		return 0, errShortReply
	}
	d.Allowed = granted(reply[off:]) > 0
	off += grantBytes
	for i := range n {
		d.Windows[i] = d.Tier.Windows[i].state(now, f64(reply[off:]), d.Allowed)
		off += 8
	}
	return off, nil
}

// grantBytes is the size of a request's grant in the script's reply.
const grantBytes = 2

// granted reads a request's grant at the start of b: the tokens Redis
// gave, 0 refused.
func granted(b string) int { return int(b[0])<<8 | int(b[1]) }

// state is the window's redis_rate numbers at now, given its TAT after the
// decision: what the script computed before replies carried TATs, in the
// same float64 operations in the same order, so the same to the bit.
func (w Window) state(now, tat float64, allowed bool) WindowState {
	if allowed {
		return WindowState{Remaining: int((now - (tat - w.offset)) / w.ei), RetryAfter: -1, ResetAfter: seconds(tat - now)}
	}
	diff := now - (tat + w.ei - w.offset)
	if diff < 0 {
		return WindowState{Remaining: 0, RetryAfter: seconds(-diff), ResetAfter: seconds(tat - now)}
	}
	return WindowState{Remaining: int(math.Min(diff/w.ei+1, float64(w.Burst))), RetryAfter: -1, ResetAfter: seconds(tat - now)}
}

func f64(s string) float64 {
	_ = s[7]
	u := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
	return math.Float64frombits(u)
}

// seconds converts as redis_rate does: -1 stays -1ns, meaning "not limited".
func seconds(f float64) time.Duration {
	if f == -1 {
		return -1
	}
	return time.Duration(f * float64(time.Second))
}

// checkReply verifies the reply is exactly as long as the batch needs.
func checkReply(reply string, off int) error {
	if off != len(reply) {
		return fmt.Errorf("rate-limit script: %d bytes left over in reply", len(reply)-off)
	}
	return nil
}
