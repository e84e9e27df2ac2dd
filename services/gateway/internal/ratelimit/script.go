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
// A cost of 1 is exactly redis_rate's allow; larger costs take leases.
// Requests in a batch run in order, each seeing the previous ones'
// charges, exactly as if they had arrived one by one.
// Every stored TAT is read up front with MGET: a call from Lua costs more
// than the command, and GET per window was most of the script's time.
//
// KEYS: every window key of every request, request by request.
// ARGV[1]: number of requests; then per request: windows, cost (≤ 255),
// and per window: burst, rate, period in seconds.
// Returns one string: per request a byte, the tokens granted (0 refused),
// and per window three little-endian doubles: remaining, retry_after,
// reset_after (seconds; retry_after -1 when the window allowed), the
// numbers redis_rate returns for one window, after the charge.
var gcraScript = redis.NewScript(`
-- this script has side-effects, so it requires replicate commands mode
redis.replicate_commands()

-- the epoch adjustment of redis_rate keeps microseconds exact in a double
local jan_1_2017 = 1483228800
local t = redis.call("TIME")
local now = (t[1] - jan_1_2017) + (t[2] / 1000000)

-- fits reports whether cost c fits every window, redis_rate's exact test
local function fits(c, nwin, tats, eis, bursts)
  for w = 1, nwin do
    if now - (tats[w] + eis[w] * c - eis[w] * bursts[w]) < 0 then
      return false
    end
  end
  return true
end

-- every stored TAT in a few MGETs rather than one GET per window: calls
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
local n = 0
local a = 2
local k = 1
-- per window of the request at hand, reused across requests
local tats, eis, bursts = {}, {}, {}
for r = 1, tonumber(ARGV[1]) do
  local nwin = tonumber(ARGV[a])
  local want = tonumber(ARGV[a + 1])
  local grant = want
  a = a + 2
  for w = 1, nwin do
    local burst = tonumber(ARGV[a])
    local ei = tonumber(ARGV[a + 2]) / tonumber(ARGV[a + 1])
    a = a + 3
    local tat = cur[KEYS[k + w - 1]] or stored[k + w - 1]
    if tat then
      tat = math.max(tonumber(tat), now)
    else
      tat = now
    end
    tats[w], eis[w], bursts[w] = tat, ei, burst
    if want == 1 then
      -- one request: redis_rate's test, nothing more
      if now - (tat + ei - ei * burst) < 0 then
        grant = 0
      end
    else
      -- the most this window allows: cost c fits while now - (tat + ei*c - ei*burst) >= 0
      local fit = math.floor((now - tat) / ei + burst)
      if fit < grant then
        grant = fit
      end
    end
  end
  if want > 1 then
    -- settle float rounding with the exact test redis_rate uses
    if grant < 0 then
      grant = 0
    end
    while grant > 0 and not fits(grant, nwin, tats, eis, bursts) do
      grant = grant - 1
    end
    if grant < want and fits(grant + 1, nwin, tats, eis, bursts) then
      grant = grant + 1
    end
  end
  if grant > 0 then
    n = n + 1
    out[n] = string.char(grant)
    for w = 1, nwin do
      local new = tats[w] + eis[w] * grant
      local reset_after = new - now
      if reset_after > 0 then
        redis.call("SET", KEYS[k + w - 1], new, "EX", math.ceil(reset_after))
        cur[KEYS[k + w - 1]] = new
      end
      n = n + 1
      out[n] = struct.pack("<ddd", (now - (new - eis[w] * bursts[w])) / eis[w], -1, reset_after)
    end
  else
    n = n + 1
    out[n] = "\0"
    for w = 1, nwin do
      local diff = now - (tats[w] + eis[w] - eis[w] * bursts[w])
      if diff < 0 then
        n = n + 1
        out[n] = struct.pack("<ddd", 0, -diff, tats[w] - now)
      else
        n = n + 1
        out[n] = struct.pack("<ddd", math.min(diff / eis[w] + 1, bursts[w]), -1, tats[w] - now)
      end
    end
  end
  k = k + nwin
end
return table.concat(out)
`)

// errShortReply means the script's answer does not match the batch.
var errShortReply = errors.New("rate-limit script: reply shorter than the batch")

// decodeDecision reads one request's verdict from the script's reply
// starting at off and returns the offset after it.
func decodeDecision(reply string, off int, d *Decision) (int, error) {
	n := len(d.Tier.Windows)
	if len(reply)-off < 1+24*n {
		return 0, errShortReply
	}
	d.Allowed = reply[off] > 0
	off++
	for i := range n {
		rem := f64(reply[off:])
		retry := f64(reply[off+8:])
		reset := f64(reply[off+16:])
		off += 24
		d.Windows[i] = WindowState{Remaining: int(rem), RetryAfter: seconds(retry), ResetAfter: seconds(reset)}
	}
	return off, nil
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
