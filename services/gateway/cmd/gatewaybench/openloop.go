package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"
)

// openLoopResult is one open-loop run against one target.
type openLoopResult struct {
	lat    []time.Duration // one per measured request, from its due time
	errors int
	late   int // requests sent more than a millisecond after they were due
}

// openLoop drives u at a fixed rate for warmup+d over conns keep-alive
// connections, as wrk2 does: connection i owns the requests due at
// start + (i + k·conns)·interval, and each latency is measured from the
// moment its request was due. A slow answer that holds up a connection's
// next send is charged to that next request too, so a stall counts against
// every request it delays (no coordinated omission). The requests are raw
// HTTP/1.1 on plain sockets, a few microseconds each: the generator shares
// a core with the upstream and must not be what the figures measure.
// Requests due in the warm-up are sent but not counted.
func openLoop(ctx context.Context, u string, rate float64, conns int, warmup, d time.Duration) (openLoopResult, error) {
	if rate <= 0 || conns <= 0 {
		return openLoopResult{}, fmt.Errorf("open loop: rate %.0f and conns %d must be positive", rate, conns)
	}
	target, err := url.Parse(u)
	if err != nil {
		return openLoopResult{}, fmt.Errorf("open loop: parse %s: %w", u, err)
	}
	req := []byte("GET " + target.RequestURI() + " HTTP/1.1\r\nHost: " + target.Host + "\r\nUser-Agent: gatewaybench\r\n\r\n")
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now().Add(50 * time.Millisecond) // every connection dialled before the first is due
	measureFrom, end := start.Add(warmup), start.Add(warmup+d)

	results := make([]openLoopResult, conns)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Go(func() {
			results[i] = drive(ctx, target.Host, req, start.Add(time.Duration(i)*interval),
				time.Duration(conns)*interval, measureFrom, end)
		})
	}
	wg.Wait()
	var all openLoopResult
	for _, r := range results {
		all.lat = append(all.lat, r.lat...)
		all.errors += r.errors
		all.late += r.late
	}
	return all, ctx.Err()
}

// drive is one connection of openLoop: it sends a request at first, then
// every step, until end.
func drive(ctx context.Context, host string, req []byte, first time.Time, step time.Duration, measureFrom, end time.Time) openLoopResult {
	var (
		res  openLoopResult
		conn net.Conn
		br   *bufio.Reader
	)
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	for due := first; due.Before(end) && ctx.Err() == nil; due = due.Add(step) {
		if w := time.Until(due); w > 0 {
			time.Sleep(w)
		} else if w < -time.Millisecond {
			res.late++
		}
		if conn == nil {
			c, err := net.Dial("tcp", host)
			if err != nil {
				res.errors++
				continue
			}
			conn, br = c, bufio.NewReaderSize(c, 16<<10)
		}
		err := roundTrip(conn, br, req)
		if err != nil {
			conn.Close()
			conn = nil
		}
		switch {
		case due.Before(measureFrom):
		case err != nil:
			res.errors++
		default:
			res.lat = append(res.lat, time.Since(due))
		}
	}
	return res
}

// roundTrip writes one request and reads its whole answer.
func roundTrip(conn net.Conn, br *bufio.Reader, req []byte) error {
	if _, err := conn.Write(req); err != nil {
		return err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("status %d", resp.StatusCode)
	}
	return err
}

// percentile of lat, p in [0, 1].
func percentile(lat []time.Duration, p float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	return s[min(int(float64(len(s))*p), len(s)-1)]
}
