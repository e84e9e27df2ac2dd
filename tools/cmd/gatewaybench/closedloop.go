package main

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"time"
)

var (
	wrkRate   = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkNon2xx = regexp.MustCompile(`Non-2xx or 3xx responses:\s+(\d+)`)
	wrkTotal  = regexp.MustCompile(`(\d+) requests in`)
)

// ceiling runs wrk closed loop on the load CPU and appends the round's
// req/s and CPU µs per request to c.
func ceiling(ctx context.Context, o options, c *config) error {
	var before time.Duration
	for _, pid := range c.pids {
		before += cpuTime(pid)
	}
	res, err := wrk(ctx, o, c.url, o.duration)
	if err != nil {
		return err
	}
	var after time.Duration
	for _, pid := range c.pids {
		after += cpuTime(pid)
	}
	rate, err := wrkReqPerSec(c.url, res)
	if err != nil {
		return err
	}
	requests := 0
	if m := wrkTotal.FindStringSubmatch(res); m != nil {
		requests, _ = strconv.Atoi(m[1])
	}
	cpu := 0.0
	if requests > 0 {
		cpu = float64(after-before) / float64(time.Microsecond) / float64(requests)
	}
	if m := wrkNon2xx.FindStringSubmatch(res); m != nil {
		n, _ := strconv.Atoi(m[1])
		c.non2xx += n
	}
	c.ceilings, c.cpu = append(c.ceilings, rate), append(c.cpu, cpu)
	return nil
}

// wrkReqPerSec is the Requests/sec of wrk's output res for url.
func wrkReqPerSec(url, res string) (float64, error) {
	m := wrkRate.FindStringSubmatch(res)
	if m == nil {
		return 0, fmt.Errorf("wrk %s: no Requests/sec in its output: %s", url, res)
	}
	rate, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, fmt.Errorf("wrk %s: rate %q: %w", url, m[1], err)
	}
	return rate, nil
}

// wrk runs wrk -t1 -c<conns> for d on the load CPU and returns its output.
func wrk(ctx context.Context, o options, url string, d time.Duration) (string, error) {
	secs := max(int(d.Round(time.Second).Seconds()), 1)
	cmd := pinned(o.loadCPU, "wrk", "-t1", "-c"+strconv.Itoa(o.conns), "-d"+strconv.Itoa(secs)+"s", url)
	b, err := runContext(ctx, cmd)
	if err != nil {
		return "", fmt.Errorf("wrk %s: %w: %s", url, err, b)
	}
	return string(b), nil
}
