package config

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// fuzzConfig has a field of every kind Load supports.
type fuzzConfig struct {
	Text     string        `env:"F_TEXT"`
	On       bool          `env:"F_ON"`
	Count    int           `env:"F_COUNT"`
	Conns    int32         `env:"F_CONNS"`
	Ratio    float64       `env:"F_RATIO"`
	Wait     time.Duration `env:"F_WAIT"`
	Networks []string      `env:"F_NETWORKS"`
}

// FuzzLoad feeds arbitrary environment values to Load: a value is either
// refused with an error or stored exactly as written, never silently
// changed (an int32 that does not fit must not wrap around).
func FuzzLoad(f *testing.F) {
	f.Add("x", "true", "8", "16", "0.5", "1m30s", "10.0.0.0/8, ::1")
	f.Add("", "maybe", "-1", "4294967297", "NaN", "-5s", ",,")
	f.Add("a", "1", "9223372036854775807", "-2147483648", "1e309", "1h", " ")
	f.Fuzz(func(t *testing.T, text, on, count, conns, ratio, wait, networks string) {
		env := map[string]string{"F_TEXT": text, "F_ON": on, "F_COUNT": count, "F_CONNS": conns,
			"F_RATIO": ratio, "F_WAIT": wait, "F_NETWORKS": networks}
		var c fuzzConfig
		if err := Load(Map(env), &c); err != nil {
			if !strings.HasPrefix(err.Error(), "config: ") {
				t.Fatalf("error %q does not name its origin", err)
			}
			return
		}
		if conns != "" {
			if n, err := strconv.ParseInt(conns, 10, 32); err != nil || int32(n) != c.Conns {
				t.Fatalf("F_CONNS=%q loaded as %d", conns, c.Conns)
			}
		}
		if count != "" {
			if n, err := strconv.ParseInt(count, 10, 64); err != nil || int(n) != c.Count {
				t.Fatalf("F_COUNT=%q loaded as %d", count, c.Count)
			}
		}
		if wait != "" {
			if d, err := time.ParseDuration(wait); err != nil || d != c.Wait {
				t.Fatalf("F_WAIT=%q loaded as %s", wait, c.Wait)
			}
		}
		if c.Text != text {
			t.Fatalf("F_TEXT=%q loaded as %q", text, c.Text)
		}
		for _, n := range c.Networks {
			if n == "" || strings.TrimSpace(n) != n || strings.Contains(n, ",") {
				t.Fatalf("F_NETWORKS=%q gave item %q", networks, n)
			}
		}
	})
}
