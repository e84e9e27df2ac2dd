package ratelimit

import (
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzParseWindows feeds arbitrary tier notations ("10/minute,30/hour",
// from the rate-limit file and RATELIMIT_<TIER>) to ParseWindows: what it
// accepts has a positive rate, a whole-second period that equals the
// written count times the unit, and makes a tier the in-process limiter
// can decide with; what it refuses is an error, never a panic.
func FuzzParseWindows(f *testing.F) {
	for _, s := range []string{
		"10/minute,30/hour", "5 per 2 hours", "100/90s", "1/day", "3/ 4 Minutes", "0/minute", "1/0.5s",
		"10/minute,10/minute", "1/9223372036 seconds", ",", "1/1h1m", "-1/hour",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		windows, err := ParseWindows(s)
		if err != nil {
			return
		}
		for _, w := range windows {
			if w.Rate <= 0 || w.Burst != w.Rate || w.Period < time.Second || w.Period%time.Second != 0 {
				t.Fatalf("ParseWindows(%q) accepted %+v", s, w)
			}
		}
		checkPeriods(t, s, windows)
		tier, err := newTier("fuzz", windows, FailLocal, false)
		if err != nil {
			return
		}
		now := time.Unix(1_900_000_000, 0)
		l := NewLocal(func() time.Time { return now }, 0)
		for range 2 {
			d := l.Allow(tier, "POST /api/contact", "203.0.113.7")
			for i := range tier.Windows {
				if d.Windows[i].Remaining < 0 || d.Windows[i].Remaining > tier.Windows[i].Burst {
					t.Fatalf("tier %q: window %d has %d remaining of %d", s, i, d.Windows[i].Remaining, tier.Windows[i].Burst)
				}
			}
		}
	})
}

// checkPeriods recomputes, without overflow, each period written as
// "N unit" and compares it with what ParseWindows returned.
func checkPeriods(t *testing.T, s string, windows []Window) {
	t.Helper()
	units := map[string]int64{"second": 1, "minute": 60, "hour": 3600, "day": 86400}
	i := 0
	for part := range strings.SplitSeq(s, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		w := windows[i]
		i++
		per := part
		if j := strings.IndexByte(part, '/'); j >= 0 {
			per = part[j+1:]
		} else if j := strings.Index(part, " per "); j >= 0 {
			per = part[j+5:]
		}
		fields := strings.Fields(per)
		n, unit := "1", ""
		switch len(fields) {
		case 1:
			unit = fields[0]
		case 2:
			n, unit = fields[0], fields[1]
		default:
			continue
		}
		secs, ok := units[strings.TrimSuffix(strings.ToLower(unit), "s")]
		if !ok {
			continue // a Go duration such as 90s
		}
		count, ok := new(big.Int).SetString(n, 10)
		if !ok {
			continue
		}
		want := new(big.Int).Mul(count, big.NewInt(secs))
		if got := big.NewInt(int64(w.Period / time.Second)); got.Cmp(want) != 0 {
			t.Fatalf("ParseWindows(%q): window %q has a period of %ss, want %ss", s, part, got, want)
		}
	}
	if i != len(windows) {
		t.Fatalf("ParseWindows(%q): %d windows for %d parts", s, len(windows), i)
	}
}

// FuzzDecodeDecision feeds arbitrary replies of the Redis script to
// decodeDecision and checkReply: a short or long reply is an error, never
// an out-of-range read.
func FuzzDecodeDecision(f *testing.F) {
	f.Add([]byte{}, 1, 0)
	f.Add(make([]byte, 10), 1, 0)
	f.Add(make([]byte, 18), 2, 0)
	f.Add(make([]byte, 60), 4, 3)
	f.Fuzz(func(t *testing.T, reply []byte, nWindows, off int) {
		if nWindows < 1 || nWindows > MaxWindows || off < 0 || off > len(reply) {
			return
		}
		ws := make([]Window, nWindows)
		for i := range ws {
			ws[i] = Window{Rate: 1, Burst: 1, Period: time.Duration(i+1) * time.Second, ei: float64(i + 1), offset: float64(i + 1)}
		}
		d := Decision{Tier: &Tier{Name: "fuzz", Windows: ws}}
		next, err := decodeDecision(string(reply), off, 1e6, &d)
		if err != nil {
			return
		}
		if next != off+grantBytes+8*nWindows {
			t.Fatalf("decodeDecision consumed %d bytes for %d windows", next-off, nWindows)
		}
		if err := checkReply(string(reply), next); (err == nil) != (next == len(reply)) {
			t.Fatalf("checkReply(%d of %d bytes): %v", next, len(reply), err)
		}
	})
}

// FuzzLoadTable feeds arbitrary rate-limit files and overrides to Load:
// a table it accepts gives every served route a tier, and nothing panics.
func FuzzLoadTable(f *testing.F) {
	keys := []string{"POST /api/sessions/book", "GET /api/events"}
	f.Add("tiers:\n  public:\n    limits: [10/minute, 30/hour]\nroutes:\n  POST /api/sessions/book: public\n  GET /api/events: public\n", "", "public=open")
	f.Add("tiers:\n  a:\n    limits: [1/second]\n    on_redis_error: closed\n    shadow: true\nroutes:\n  POST /api/sessions/book: a\n  GET /api/events: a\n", "1/hour", "")
	f.Add("tiers: {}\nroutes: {}\n", "", "")
	f.Add("tiers:\n  x: 1\n", "", "=")
	f.Fuzz(func(t *testing.T, yml, windows, policy string) {
		ov := Overrides{Windows: map[string]string{"public": windows, "a": windows}}
		if policy != "" {
			ov.OnRedisError = strings.Split(policy, ",")
		}
		table, err := Load([]byte(yml), ov, keys)
		if err != nil {
			return
		}
		for _, k := range keys {
			if table.ForRoute(k) == nil {
				t.Fatalf("route %s has no tier in %q", k, yml)
			}
		}
		for _, name := range table.TierNames() {
			tier := table.Tier(name)
			if len(tier.Windows) == 0 || len(tier.Windows) > MaxWindows {
				t.Fatalf("tier %s has %d windows", name, len(tier.Windows))
			}
			_ = strconv.Quote(tier.PolicyHeader())
		}
	})
}
