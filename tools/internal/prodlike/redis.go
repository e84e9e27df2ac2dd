package prodlike

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/acube/platform/tools/internal/stack"
)

// Redis ports of the redis-ha chart's pods.
const (
	redisPort    = 6379
	sentinelPort = 26379
)

// Redis is the redis-ha chart run locally: as many Redis servers as the
// values' replicas (the first the primary at start, the others its
// replicas), each with a Sentinel beside it, with the values' master name,
// quorum, Redis and Sentinel settings and passwords. Each pod's name
// (redis-ha-server-N.redis-ha.acube-infra.svc) resolves to its server on
// 6379 and its Sentinel on 26379.
type Redis struct {
	// Master is the Sentinels' name of the primary.
	Master string
	// URL is the gateway's REDIS_URL (the acube-redis Secret's url), in
	// cluster names, as docs/operations.md writes it.
	URL string

	vals                   RedisValues
	password, sentinelPass string
	dir                    string
	out                    *stack.Output

	mu        sync.Mutex
	servers   []*redisNode
	sentinels []*redisNode
}

// redisNode is one redis-server process (a server or a Sentinel).
type redisNode struct {
	name string
	port int
	proc *stack.Process
}

// startRedis starts the servers and Sentinels and waits until every
// Sentinel sees the primary, its replicas and the other Sentinels.
func startRedis(ctx context.Context, v RedisValues, sec *Secrets, dns *DNS, dir string, out *stack.Output, pick func() (int, error)) (*Redis, error) {
	if v.Replicas < 1 || v.Redis.MasterGroupName == "" || v.Sentinel.Quorum < 1 {
		return nil, fmt.Errorf("redis values: replicas %d, masterGroupName %q, sentinel quorum %d: not a Sentinel setup",
			v.Replicas, v.Redis.MasterGroupName, v.Sentinel.Quorum)
	}
	r := &Redis{Master: v.Redis.MasterGroupName, vals: v, dir: dir, out: out}
	var err error
	if v.Auth {
		if r.password, err = sec.Get("acube-redis-auth", "password"); err != nil {
			return nil, err
		}
	}
	if v.Sentinel.Auth {
		if r.sentinelPass, err = sec.Get("acube-redis-auth", "sentinel-password"); err != nil {
			return nil, err
		}
	}
	ok := false
	defer func() {
		if !ok {
			_ = r.Close()
		}
	}()
	for i := range v.Replicas {
		sp, err := pick()
		if err != nil {
			return nil, err
		}
		tp, err := pick()
		if err != nil {
			return nil, err
		}
		r.servers = append(r.servers, &redisNode{name: fmt.Sprintf("redis-%d", i), port: sp})
		r.sentinels = append(r.sentinels, &redisNode{name: fmt.Sprintf("sentinel-%d", i), port: tp})
		pod := fmt.Sprintf("%s-server-%d.%s.%s", redisRelease, i, redisRelease, infraNamespace)
		dns.Add(pod, redisPort, stack.Addr(sp))
		dns.Add(pod, sentinelPort, stack.Addr(tp))
	}
	primary := r.servers[0]
	for i, n := range r.servers {
		replicaOf := 0
		if i > 0 {
			replicaOf = primary.port
		}
		if err := r.startServer(ctx, n, replicaOf); err != nil {
			return nil, err
		}
	}
	for _, n := range r.sentinels {
		if err := r.startSentinel(n, primary.port); err != nil {
			return nil, err
		}
	}
	if err := r.waitSentinels(ctx); err != nil {
		return nil, err
	}
	r.URL = r.secretURL()
	sec.Set("acube-redis", "url", r.URL)
	ok = true
	return r, nil
}

// secretURL is the acube-redis Secret's url in the form docs/operations.md
// gives: the first Sentinel in the host, the others as addr, the Sentinel
// password as the URL's, the Redis password as password.
func (r *Redis) secretURL() string {
	pod := func(i int) string {
		return fmt.Sprintf("%s-server-%d.%s.%s.svc:%d", redisRelease, i, redisRelease, infraNamespace, sentinelPort)
	}
	u := "redis://"
	if r.sentinelPass != "" {
		u += ":" + r.sentinelPass + "@"
	}
	u += pod(0) + "/0?master_name=" + r.Master
	for i := 1; i < len(r.sentinels); i++ {
		u += "&addr=" + pod(i)
	}
	if r.password != "" {
		u += "&password=" + r.password
	}
	return u
}

// startServer writes a server's config (the values' redis.config, auth,
// and replicaof when replicaOf is a port) and starts it.
func (r *Redis) startServer(ctx context.Context, n *redisNode, replicaOf int) error {
	lines := []string{"port " + strconv.Itoa(n.port), "bind 127.0.0.1", "dir " + r.dir}
	keys := make([]string, 0, len(r.vals.Redis.Config))
	for k := range r.vals.Redis.Config {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		lines = append(lines, k+" "+fmt.Sprint(r.vals.Redis.Config[k]))
	}
	if r.password != "" {
		lines = append(lines, "requirepass "+r.password, "masterauth "+r.password)
	}
	if replicaOf > 0 {
		lines = append(lines, "replicaof 127.0.0.1 "+strconv.Itoa(replicaOf))
	}
	lines = append(lines, "dbfilename "+n.name+".rdb")
	conf := filepath.Join(r.dir, n.name+".conf")
	if err := os.WriteFile(conf, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		return fmt.Errorf("redis config: %w", err)
	}
	p, err := stack.Start(stack.Spec{Name: n.name, Bin: "redis-server", Args: []string{conf}}, r.out)
	if err != nil {
		return err
	}
	r.mu.Lock()
	n.proc = p
	r.mu.Unlock()
	c := redis.NewClient(&redis.Options{Addr: stack.Addr(n.port), Password: r.password, MaxRetries: -1})
	defer c.Close()
	return waitUntil(ctx, n.name+" answering", func() bool {
		return c.Ping(ctx).Err() == nil
	}, p.Done())
}

// startSentinel writes a Sentinel's config (monitor the primary with the
// values' quorum and sentinel.config, auth) and starts it. Sentinel
// rewrites its file, so each has its own.
func (r *Redis) startSentinel(n *redisNode, primary int) error {
	m := r.Master
	lines := []string{"port " + strconv.Itoa(n.port), "bind 127.0.0.1", "dir " + r.dir,
		fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d %d", m, primary, r.vals.Sentinel.Quorum)}
	keys := make([]string, 0, len(r.vals.Sentinel.Config))
	for k := range r.vals.Sentinel.Config {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		lines = append(lines, fmt.Sprintf("sentinel %s %s %v", k, m, r.vals.Sentinel.Config[k]))
	}
	if r.password != "" {
		lines = append(lines, "sentinel auth-pass "+m+" "+r.password)
	}
	if r.sentinelPass != "" {
		lines = append(lines, "requirepass "+r.sentinelPass, "sentinel sentinel-pass "+r.sentinelPass)
	}
	conf := filepath.Join(r.dir, n.name+".conf")
	if err := os.WriteFile(conf, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		return fmt.Errorf("sentinel config: %w", err)
	}
	p, err := stack.Start(stack.Spec{Name: n.name, Bin: "redis-server", Args: []string{conf, "--sentinel"}}, r.out)
	if err != nil {
		return err
	}
	r.mu.Lock()
	n.proc = p
	r.mu.Unlock()
	return nil
}

// sentinel returns a client of Sentinel i.
func (r *Redis) sentinel(i int) *redis.SentinelClient {
	return redis.NewSentinelClient(&redis.Options{Addr: stack.Addr(r.sentinels[i].port), Password: r.sentinelPass, MaxRetries: -1,
		DialTimeout: time.Second, ReadTimeout: time.Second})
}

// waitSentinels waits until every Sentinel names the same primary and
// knows its replicas and the other Sentinels: only then can a quorum fail
// over.
func (r *Redis) waitSentinels(ctx context.Context) error {
	want := len(r.servers) - 1
	for i := range r.sentinels {
		sc := r.sentinel(i)
		err := waitUntil(ctx, r.sentinels[i].name+" seeing the primary, its replicas and the other Sentinels", func() bool {
			info, err := sc.Master(ctx, r.Master).Result()
			if err != nil {
				return false
			}
			slaves, _ := strconv.Atoi(info["num-slaves"])
			others, _ := strconv.Atoi(info["num-other-sentinels"])
			return slaves >= want && others >= len(r.sentinels)-1
		}, r.sentinels[i].proc.Done())
		sc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// Primary returns the address the Sentinels name as the primary: the one
// a majority of the running Sentinels agree on.
func (r *Redis) Primary(ctx context.Context) (string, error) {
	votes := map[string]int{}
	for i := range r.sentinels {
		sc := r.sentinel(i)
		addr, err := sc.GetMasterAddrByName(ctx, r.Master).Result()
		sc.Close()
		if err == nil && len(addr) == 2 {
			votes[net.JoinHostPort(addr[0], addr[1])]++
		}
	}
	for a, n := range votes {
		if n > len(r.sentinels)/2 {
			return a, nil
		}
	}
	return "", fmt.Errorf("redis: no majority of Sentinels names a primary (%v)", votes)
}

// node returns the server listening at addr.
func (r *Redis) node(addr string) (*redisNode, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range r.servers {
		if stack.Addr(n.port) == addr {
			return n, nil
		}
	}
	return nil, fmt.Errorf("redis: no server at %s", addr)
}

// KillPrimary SIGKILLs the server the Sentinels name as primary and
// returns its address.
func (r *Redis) KillPrimary(ctx context.Context) (string, error) {
	addr, err := r.Primary(ctx)
	if err != nil {
		return "", err
	}
	n, err := r.node(addr)
	if err != nil {
		return "", err
	}
	n.proc.Kill()
	return addr, nil
}

// WaitFailover waits until a majority of Sentinels name a primary other
// than old and that server says it is a primary.
func (r *Redis) WaitFailover(ctx context.Context, old string) (string, error) {
	var now string
	err := waitUntil(ctx, "a Sentinel failover away from "+old, func() bool {
		p, err := r.Primary(ctx)
		if err != nil || p == old {
			return false
		}
		c := redis.NewClient(&redis.Options{Addr: p, Password: r.password, MaxRetries: -1})
		defer c.Close()
		role, err := c.Do(ctx, "ROLE").Slice()
		if err != nil || len(role) == 0 || role[0] != "master" {
			return false
		}
		now = p
		return true
	}, nil)
	return now, err
}

// RestartAsReplica starts the server that listened at addr again, empty,
// as a replica of the current primary: what the chart's init container
// does for a pod that comes back.
func (r *Redis) RestartAsReplica(ctx context.Context, addr string) error {
	n, err := r.node(addr)
	if err != nil {
		return err
	}
	primary, err := r.Primary(ctx)
	if err != nil {
		return err
	}
	_, port, _ := net.SplitHostPort(primary)
	p, _ := strconv.Atoi(port)
	if err := r.startServer(ctx, n, p); err != nil {
		return err
	}
	return r.waitSentinels(ctx)
}

// Keys counts the keys on the server at addr.
func (r *Redis) Keys(ctx context.Context, addr string) (int64, error) {
	c := redis.NewClient(&redis.Options{Addr: addr, Password: r.password, MaxRetries: -1})
	defer c.Close()
	n, err := c.DBSize(ctx).Result()
	if err != nil {
		return 0, fmt.Errorf("redis %s: dbsize: %w", addr, err)
	}
	return n, nil
}

// Processes lists the servers and Sentinels with their ports.
func (r *Redis) Processes() []ProcessInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []ProcessInfo
	for _, n := range append(slices.Clone(r.servers), r.sentinels...) {
		if n.proc != nil {
			out = append(out, ProcessInfo{Name: n.name, Pid: n.proc.Pid(), Addrs: []string{stack.Addr(n.port)}})
		}
	}
	return out
}

// Close stops every server and Sentinel.
func (r *Redis) Close() error {
	r.mu.Lock()
	nodes := append(slices.Clone(r.sentinels), r.servers...)
	r.mu.Unlock()
	var errs []error
	for _, n := range nodes {
		if n.proc != nil {
			if err := n.proc.Stop(5 * time.Second); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
