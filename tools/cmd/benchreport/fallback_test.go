package main

import (
	"math"
	"strings"
	"testing"
)

func TestFallbackReadsTodaysSummaries(t *testing.T) {
	tests := []struct {
		name      string
		target    string
		output    string
		wantNames []string
		wantRatio []float64
	}{
		{
			name:   "booking",
			target: "bench-booking",
			output: `booking write path vs pgbench: 8 clients, 15s each, 2 CPUs
  booking  Service.Book (validate, row + outbox, one tx):       212 bookings/s
  pgbench  same INSERTs + pg_notify, -M prepared:               215 tx/s
  ratio booking / pgbench: 0.99x (target >= 0.90x)`,
			wantNames: []string{"booking write path (row + outbox, one tx)"},
			wantRatio: []float64{212.0 / 215},
		},
		{
			name:   "mailer medians, not rounds",
			target: "bench-mailer",
			output: `  sink discard  round 1: bare loop    815/s  bare loops x4    924/s  mailer    162/s  ratio 0.20x
mailer benchmark (medians of 3 rounds, emails/s):
  sink discard  bare loop    484  bare loops x4    680  mailer    167  mailer/bare loop 0.35x (target >= 0.8x: FAIL)  mailer/bare loops x4 0.25x
  sink spool    bare loop    265  bare loops x4    988  mailer    367  mailer/bare loop 1.38x (target >= 0.8x: PASS)  mailer/bare loops x4 0.37x`,
			wantNames: []string{"mailer emails/s, discard sink (median)", "mailer emails/s, spool sink (median)"},
			wantRatio: []float64{167.0 / 484, 367.0 / 265},
		},
		{
			name:   "export",
			target: "bench-export",
			output: `rows       tool         seconds        bytes peak_rss_kb       rows/s
100000     psql           1.000     29500000       9000       100000
100000     exporter       0.800     29300000      19324       125000
1000000    psql           9.520    296600000       9000       105042
1000000    exporter       9.160    294600000      20172       109170

speed vs psql at 1000000 rows: 1.04x (target >= 1.20x): FAIL
exporter peak RSS 1000000 rows / 100000 rows: 20172 kB / 19324 kB = 1.04x (target <= 1.20x): PASS`,
			wantNames: []string{"audit export of 1000000 rows, rows/s", "exporter peak RSS at 1000000 rows"},
			wantRatio: []float64{9.52 / 9.16, 20172.0 / 19324},
		},
		{
			name:   "gateway",
			target: "bench-gateway",
			output: `  ceiling upstream direct                     30000 req/s  (non-2xx 0)
  ceiling gateway, no limits                  12000 req/s  (non-2xx 0)
  ceiling gateway, Redis limits                9000 req/s  (non-2xx 0)
  ceiling nginx proxy_pass + limit_req        10000 req/s  (non-2xx 0)
  latency upstream direct                 p50  0.200ms  p99  0.500ms  (errors 0)
  latency gateway, Redis limits           p50  0.400ms  p99  1.250ms  (errors 0)
limiter decisions/s = 50000 vs redis-benchmark -t incr -c 64 = 40000: ratio 1.25  (target >= 1.0)`,
			wantNames: []string{"gateway with Redis limits, req/s (closed loop)", "gateway's added p99 at half its ceiling (open loop)", "limiter decisions/s"},
			wantRatio: []float64{0.9, 0, 1.25},
		},
		{name: "unknown output", target: "bench-booking", output: "nothing here"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fallback(tt.target, strings.Split(tt.output, "\n"))
			if len(got) != len(tt.wantNames) {
				t.Fatalf("got %d results %+v, want %d", len(got), got, len(tt.wantNames))
			}
			for i, r := range got {
				if r.Name != tt.wantNames[i] {
					t.Errorf("result %d is %q, want %q", i, r.Name, tt.wantNames[i])
				}
				if math.Abs(r.Ratio()-tt.wantRatio[i]) > 1e-9 {
					t.Errorf("%s: ratio %v, want %v", r.Name, r.Ratio(), tt.wantRatio[i])
				}
			}
		})
	}
}

func TestGatewayAddedP99NoVerdictWhenTheReferenceIsSlower(t *testing.T) {
	got := gatewayFallback("  latency upstream direct   p50 2298.230ms  p99 2908.106ms\n  latency gateway, Redis limits  p50 2.315ms  p99 16.575ms\n")
	if len(got) != 1 || got[0].Verdict() != "" {
		t.Fatalf("added p99 = %+v, want no verdict", got)
	}
}

func TestGatewayAddedP99(t *testing.T) {
	got := gatewayFallback("  latency upstream direct   p50 0.200ms  p99 0.500ms\n  latency gateway, Redis limits  p50 0.400ms  p99 1.250ms\n")
	if len(got) != 1 || math.Abs(got[0].Value-0.75) > 1e-9 || got[0].Verdict() != "PASS" {
		t.Fatalf("added p99 = %+v, want 0.75 ms, PASS", got)
	}
}
