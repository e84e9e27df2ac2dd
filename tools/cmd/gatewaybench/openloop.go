package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/acube/platform/tools/internal/bench"
)

// latency offers c.url open loop at rate for o.duration after o.warmup
// (bench.Load.RunRawHTTP: one keep-alive connection per sender, one event
// loop, latency from each request's due time) and appends the round's p50
// and p99, and the p99 of the generator's own send lag, to c.
func latency(ctx context.Context, o options, c *config, rate float64) error {
	target, err := url.Parse(c.url)
	if err != nil {
		return fmt.Errorf("open loop: parse %s: %w", c.url, err)
	}
	load := bench.Load{Rate: rate, Warmup: o.warmup, Duration: o.duration, Senders: o.conns}
	res, err := load.RunRawHTTP(ctx, target.Host, request(target))
	if err != nil {
		return fmt.Errorf("open loop %s: %w", c.url, err)
	}
	s := bench.Summarize(res.Latencies)
	c.p50s, c.p99s = append(c.p50s, s.P50), append(c.p99s, s.P99)
	c.lagP99s = append(c.lagP99s, bench.Summarize(res.Lags).P99)
	c.errors += res.Errors
	c.late += res.Late
	if res.FirstErr != nil && c.firstErr == nil {
		c.firstErr = res.FirstErr
	}
	return nil
}

// latencyGoroutines is latency on bench.Load.Run, the callback generator
// (a goroutine and a Go timer per sender, answers read with
// http.ReadResponse): what the benchmark used before RunRawHTTP, kept for
// `gatewaybench openloop -generator goroutines` to compare the two.
func latencyGoroutines(ctx context.Context, o options, c *config, rate float64) error {
	target, err := url.Parse(c.url)
	if err != nil {
		return fmt.Errorf("open loop: parse %s: %w", c.url, err)
	}
	req := request(target)
	conns := make([]*rawConn, o.conns)
	lat := make([][]time.Duration, o.conns)
	lags := make([][]time.Duration, o.conns)
	errs := make([]int, o.conns)
	defer func() {
		for _, rc := range conns {
			if rc != nil {
				rc.close()
			}
		}
	}()
	load := bench.Load{Rate: rate, Warmup: o.warmup, Duration: o.duration, Senders: o.conns}
	sent, err := load.Run(ctx, func(_ context.Context, r bench.Request) {
		lag := time.Since(r.Due)
		rc := conns[r.Sender]
		if rc == nil {
			rc = &rawConn{host: target.Host}
			conns[r.Sender] = rc
		}
		status, err := rc.do(req)
		if err == nil && status != http.StatusOK {
			err = fmt.Errorf("status %d", status)
		}
		switch {
		case r.Warmup:
		case err != nil:
			errs[r.Sender]++
		default:
			lat[r.Sender] = append(lat[r.Sender], time.Since(r.Due))
			lags[r.Sender] = append(lags[r.Sender], lag)
		}
	})
	if err != nil {
		return fmt.Errorf("open loop %s: %w", c.url, err)
	}
	var all, allLags []time.Duration
	for i := range lat {
		all, allLags = append(all, lat[i]...), append(allLags, lags[i]...)
		c.errors += errs[i]
	}
	s := bench.Summarize(all)
	c.p50s, c.p99s = append(c.p50s, s.P50), append(c.p99s, s.P99)
	c.lagP99s = append(c.lagP99s, bench.Summarize(allLags).P99)
	c.late += sent.Late
	return nil
}

// request is a raw HTTP/1.1 GET of u: a few microseconds to send, so the
// generator, sharing a core with the upstream, is not what is measured.
func request(u *url.URL) []byte {
	return []byte("GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host + "\r\nUser-Agent: gatewaybench\r\n\r\n")
}

// rawConn is one keep-alive connection of the flood, dialled on first use and again
// after an error.
type rawConn struct {
	host string
	conn net.Conn
	br   *bufio.Reader
}

// do sends req and reads the whole answer, returning its status.
func (rc *rawConn) do(req []byte) (int, error) {
	if rc.conn == nil {
		c, err := net.Dial("tcp", rc.host)
		if err != nil {
			return 0, fmt.Errorf("dial %s: %w", rc.host, err)
		}
		rc.conn, rc.br = c, bufio.NewReaderSize(c, 16<<10)
	}
	status, err := rc.exchange(req)
	if err != nil {
		rc.close()
	}
	return status, err
}

func (rc *rawConn) exchange(req []byte) (int, error) {
	if _, err := rc.conn.Write(req); err != nil {
		return 0, fmt.Errorf("send: %w", err)
	}
	resp, err := http.ReadResponse(rc.br, nil)
	if err != nil {
		return 0, fmt.Errorf("read answer: %w", err)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return 0, fmt.Errorf("read body: %w", err)
	}
	if resp.Close {
		rc.close()
	}
	return resp.StatusCode, nil
}

func (rc *rawConn) close() {
	if rc.conn != nil {
		rc.conn.Close()
		rc.conn, rc.br = nil, nil
	}
}
