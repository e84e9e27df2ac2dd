package ratelimit

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/redis/go-redis/v9"
)

// gcraScript is go-redis/redis_rate v10's GCRA (allowN) generalised twice:
// to N windows per request, all computed before any is stored, so a
// request refused by one window charges none; and to many requests per
// call, so concurrent decisions share one round trip. Requests in a batch
// run in order, each seeing the previous ones' charges, exactly as if they
// had arrived one by one.
//
// KEYS: every window key of every request, request by request.
// ARGV[1]: number of requests; then per request: windows, cost, and per
// window: burst, rate, period in seconds.
// Returns one string: per request a byte (1 allowed, 0 refused) and per
// window three little-endian doubles: remaining, retry_after, reset_after
// (seconds; retry_after -1 when the window allowed), the numbers
// redis_rate returns for one window.
var gcraScript = redis.NewScript(`
-- this script has side-effects, so it requires replicate commands mode
redis.replicate_commands()

-- the epoch adjustment of redis_rate keeps microseconds exact in a double
local jan_1_2017 = 1483228800
local t = redis.call("TIME")
local now = (t[1] - jan_1_2017) + (t[2] / 1000000)

local out = {}
local a = 2
local k = 1
for r = 1, tonumber(ARGV[1]) do
  local nwin = tonumber(ARGV[a])
  local cost = tonumber(ARGV[a + 1])
  a = a + 2
  local ok = true
  local tats, news, eis, bursts = {}, {}, {}, {}
  for w = 1, nwin do
    local burst = tonumber(ARGV[a])
    local ei = tonumber(ARGV[a + 2]) / tonumber(ARGV[a + 1])
    a = a + 3
    local tat = redis.call("GET", KEYS[k + w - 1])
    if tat then
      tat = math.max(tonumber(tat), now)
    else
      tat = now
    end
    tats[w], news[w], eis[w], bursts[w] = tat, tat + ei * cost, ei, burst
    if now - (news[w] - ei * burst) < 0 then
      ok = false
    end
  end
  if ok then
    out[#out + 1] = "\1"
    for w = 1, nwin do
      local reset_after = news[w] - now
      if reset_after > 0 then
        redis.call("SET", KEYS[k + w - 1], news[w], "EX", math.ceil(reset_after))
      end
      out[#out + 1] = struct.pack("<ddd", (now - (news[w] - eis[w] * bursts[w])) / eis[w], -1, reset_after)
    end
  else
    out[#out + 1] = "\0"
    for w = 1, nwin do
      local diff = now - (news[w] - eis[w] * bursts[w])
      if diff < 0 then
        out[#out + 1] = struct.pack("<ddd", 0, -diff, tats[w] - now)
      else
        out[#out + 1] = struct.pack("<ddd", math.min(diff / eis[w] + cost, bursts[w]), -1, tats[w] - now)
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
	d.Allowed = reply[off] == 1
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
