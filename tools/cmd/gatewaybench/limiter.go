package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/acube/platform/libs/benchresult"
)

// limiterRounds holds the limiter's figures, round by round: decisions/s
// on the generous and the strict tier, and redis-benchmark's INCR/s.
type limiterRounds struct {
	generous, strict, incr []float64
}

// round measures the three in an order rotated by round, each on the SUT
// CPU against the private Redis on the load CPU.
func (l *limiterRounds) round(ctx context.Context, o options, s *setup, round int, out io.Writer) error {
	type side struct {
		name string
		dst  *[]float64
		run  func() (float64, error)
	}
	tier := func(t string) func() (float64, error) {
		return func() (float64, error) {
			return limiterbench(ctx, o, s, t, fmt.Sprintf("%slim%d%s:", s.prefix, round, t))
		}
	}
	sides := []side{
		{"limiter, generous tier", &l.generous, tier("generous")},
		{"redis-benchmark -t incr -c " + strconv.Itoa(o.clients), &l.incr, func() (float64, error) {
			n := 100000
			if len(l.incr) > 0 {
				n = max(n, int(l.incr[len(l.incr)-1]*o.duration.Seconds()))
			}
			return redisBenchmarkIncr(ctx, o, s.redisAddr, n)
		}},
		{"limiter, strict tier", &l.strict, tier("strict")},
	}
	for i := range sides {
		sd := sides[(i+round)%len(sides)]
		// Each side starts on an empty Redis: the strict tier leaves a
		// key per decision (millions a round, with the tier's reset as
		// their TTL), and a Redis growing its table and expiring them
		// would slow whatever runs next.
		if err := flushRedis(ctx, s.redisAddr); err != nil {
			return err
		}
		v, err := sd.run()
		if err != nil {
			return err
		}
		*sd.dst = append(*sd.dst, v)
		fmt.Fprintf(out, "  round %d %-48s %9.0f /s\n", round+1, sd.name, v)
	}
	return nil
}

// limiterbench runs the limiter benchmark binary on one tier and reads
// its result line.
func limiterbench(ctx context.Context, o options, s *setup, tier, prefix string) (float64, error) {
	cmd := pinned(o.sutCPU, o.limiterbench, "-redis", "redis://"+s.redisAddr+"/0", "-prefix", prefix, "-tier", tier,
		"-clients", strconv.Itoa(o.clients), "-duration", o.duration.String())
	b, err := runContext(ctx, cmd)
	if err != nil {
		return 0, fmt.Errorf("limiterbench -tier %s: %w: %s", tier, err, b)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if r, ok, err := benchresult.Parse(sc.Text()); err != nil {
			return 0, fmt.Errorf("limiterbench -tier %s: %w", tier, err)
		} else if ok {
			return r.Value, nil
		}
	}
	return 0, fmt.Errorf("limiterbench -tier %s printed no result line: %s", tier, b)
}

var incrRate = regexp.MustCompile(`INCR: ([0-9.]+) requests per second`)

// redisBenchmarkIncr runs redis-benchmark -t incr with the limiter's
// client count on the SUT CPU, as the limiter runs there.
func redisBenchmarkIncr(ctx context.Context, o options, addr string, requests int) (float64, error) {
	host, port, _ := strings.Cut(addr, ":")
	cmd := pinned(o.sutCPU, "redis-benchmark", "-h", host, "-p", port, "-t", "incr",
		"-c", strconv.Itoa(o.clients), "-n", strconv.Itoa(requests), "-q")
	b, err := runContext(ctx, cmd)
	if err != nil {
		return 0, fmt.Errorf("redis-benchmark: %w: %s", err, b)
	}
	m := incrRate.FindSubmatch(b)
	if m == nil {
		return 0, fmt.Errorf("redis-benchmark printed no INCR rate: %s", b)
	}
	return strconv.ParseFloat(string(m[1]), 64)
}

// runContext runs cmd and returns its output, killing it when ctx ends.
func runContext(ctx context.Context, cmd *exec.Cmd) ([]byte, error) {
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return buf.Bytes(), err
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		<-done
		return buf.Bytes(), ctx.Err()
	}
}

// flushRedis empties the Redis at addr (the benchmark's own).
func flushRedis(ctx context.Context, addr string) error {
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	if err := rdb.FlushAll(ctx).Err(); err != nil {
		return fmt.Errorf("empty the benchmark's Redis: %w", err)
	}
	return nil
}

// waitRedis waits until the Redis at addr answers PING.
func waitRedis(ctx context.Context, addr string) error {
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	for range 100 {
		if rdb.Ping(ctx).Err() == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("redis-server at %s did not answer", addr)
}
