package main

import (
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/acube/platform/tools/internal/bench"
)

// fallback reads the figures of a target that prints no result lines from
// its human-readable summary, as written by its command today. It returns
// nothing for an unknown target or an output it cannot read; the report
// then shows the target's output only.
func fallback(target string, lines []string) []bench.Result {
	text := strings.Join(lines, "\n")
	switch target {
	case "bench-booking":
		return bookingFallback(text)
	case "bench-mailer":
		return mailerFallback(text)
	case "bench-export":
		return exportFallback(text)
	case "bench-gateway":
		return gatewayFallback(text)
	}
	return nil
}

var (
	bookingRate = regexp.MustCompile(`(?m)^\s*booking\s+Service\.Book.*?([\d.]+) bookings/s`)
	pgbenchRate = regexp.MustCompile(`(?m)^\s*pgbench\s+.*?([\d.]+) tx/s`)
)

func bookingFallback(text string) []bench.Result {
	b, okB := number(bookingRate, text)
	p, okP := number(pgbenchRate, text)
	if !okB || !okP {
		return nil
	}
	return []bench.Result{{Area: "booking", Name: "booking write path (row + outbox, one tx)", Value: b, Unit: "tx/s",
		Ref: "pgbench, same statements and clients", RefValue: p, Min: 0.9}}
}

var mailerSink = regexp.MustCompile(`(?m)^\s*sink (\S+)\s+bare loop\s+([\d.]+)\s+bare loops x\d+\s+([\d.]+)\s+mailer\s+([\d.]+)\s+mailer/bare loop`)

func mailerFallback(text string) []bench.Result {
	var out []bench.Result
	for _, m := range mailerSink.FindAllStringSubmatch(text, -1) {
		bare, _ := strconv.ParseFloat(m[2], 64)
		mailer, _ := strconv.ParseFloat(m[4], 64)
		out = append(out, bench.Result{Area: "mailer", Name: "mailer emails/s, " + m[1] + " sink (median)", Value: mailer, Unit: "emails/s",
			Ref: "bare SMTP send loop, same sink", RefValue: bare, Min: 0.8})
	}
	return out
}

var (
	exportRow = regexp.MustCompile(`(?m)^(\d+)\s+(psql|exporter)\s+([\d.]+)\s+(\d+)\s+(\d+)\s+([\d.]+)\s*$`)
	exportRSS = regexp.MustCompile(`exporter peak RSS (\d+) rows / (\d+) rows: (\d+) kB / (\d+) kB`)
)

func exportFallback(text string) []bench.Result {
	type row struct{ seconds, rss float64 }
	rows := map[string]map[string]row{} // rows → tool → figures
	maxRows := ""
	for _, m := range exportRow.FindAllStringSubmatch(text, -1) {
		secs, _ := strconv.ParseFloat(m[3], 64)
		rss, _ := strconv.ParseFloat(m[5], 64)
		if rows[m[1]] == nil {
			rows[m[1]] = map[string]row{}
		}
		rows[m[1]][m[2]] = row{secs, rss}
		if n, _ := strconv.Atoi(m[1]); n > atoi(maxRows) {
			maxRows = m[1]
		}
	}
	var out []bench.Result
	if r := rows[maxRows]; r["psql"].seconds > 0 && r["exporter"].seconds > 0 {
		// Speed as 1/time, so the ratio is psql's time over ours.
		out = append(out, bench.Result{Area: "export", Name: "audit export of " + maxRows + " rows, rows/s", Unit: "rows/s",
			Value: float64(atoi(maxRows)) / r["exporter"].seconds, RefValue: float64(atoi(maxRows)) / r["psql"].seconds,
			Ref: `psql \copy (…) TO file CSV`, Min: 1.2})
	}
	if m := exportRSS.FindStringSubmatch(text); m != nil {
		big, _ := strconv.ParseFloat(m[3], 64)
		small, _ := strconv.ParseFloat(m[4], 64)
		if small > 0 {
			out = append(out, bench.Result{Area: "export", Name: "exporter peak RSS at " + m[1] + " rows", Value: big, Unit: "kB",
				Ref: "exporter peak RSS at " + m[2] + " rows", RefValue: small, Max: 1.2})
		}
	}
	return out
}

var (
	gatewayCeiling = regexp.MustCompile(`(?m)^\s*ceiling\s+(.+?)\s+([\d.]+) req/s`)
	gatewayLatency = regexp.MustCompile(`(?m)^\s*latency\s+(.+?)\s+p50\s+(\S+)\s+p99\s+(\S+)`)
	gatewayLimiter = regexp.MustCompile(`limiter decisions/s = ([\d.]+) vs redis-benchmark -t incr -c (\d+) = ([\d.]+)`)
)

func gatewayFallback(text string) []bench.Result {
	ceiling := map[string]float64{}
	for _, m := range gatewayCeiling.FindAllStringSubmatch(text, -1) {
		ceiling[m[1]], _ = strconv.ParseFloat(m[2], 64)
	}
	p99 := map[string]time.Duration{}
	for _, m := range gatewayLatency.FindAllStringSubmatch(text, -1) {
		if d, err := time.ParseDuration(m[3]); err == nil {
			p99[m[1]] = d
		}
	}
	find := func(m map[string]float64, words ...string) (float64, bool) {
		for k, v := range m {
			if containsAll(k, words...) {
				return v, true
			}
		}
		return 0, false
	}
	var out []bench.Result
	gw, okG := find(ceiling, "gateway", "redis")
	ng, okN := find(ceiling, "nginx")
	if okG && okN {
		out = append(out, bench.Result{Area: "gateway", Name: "gateway with Redis limits, req/s (closed loop)", Value: gw, Unit: "req/s",
			Ref: "nginx proxy_pass + limit_req, same upstream", RefValue: ng, Min: 0.9})
	}
	var gwP99, directP99 time.Duration
	for k, v := range p99 {
		switch {
		case containsAll(k, "gateway", "redis"):
			gwP99 = v
		case containsAll(k, "upstream", "direct"):
			directP99 = v
		}
	}
	if gwP99 > 0 && directP99 > 0 {
		r := bench.Result{Area: "gateway", Name: "gateway's added p99 at half its ceiling (open loop)", Unit: "ms",
			Value: bench.Ms(gwP99 - directP99), Max: 1,
			Note: "p99 " + gwP99.String() + " through the gateway vs " + directP99.String() + " upstream direct"}
		if gwP99 < directP99 {
			// The reference itself was overloaded: no verdict either way.
			r.Max, r.Note = 0, r.Note+"; the reference was slower, so this run says nothing about the target"
		}
		out = append(out, r)
	}
	if m := gatewayLimiter.FindStringSubmatch(text); m != nil {
		d, _ := strconv.ParseFloat(m[1], 64)
		r, _ := strconv.ParseFloat(m[3], 64)
		out = append(out, bench.Result{Area: "gateway", Name: "limiter decisions/s", Value: d, Unit: "ops/s",
			Ref: "redis-benchmark -t incr, " + m[2] + " clients", RefValue: r, Min: 1.0})
	}
	return out
}

func number(re *regexp.Regexp, text string) (float64, bool) {
	m := re.FindStringSubmatch(text)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(m[1], 64)
	return v, err == nil
}

func containsAll(s string, words ...string) bool {
	s = strings.ToLower(s)
	for _, w := range words {
		if !strings.Contains(s, w) {
			return false
		}
	}
	return true
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
