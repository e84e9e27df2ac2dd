package prodlike

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/acube/platform/tools/internal/chaos"
	"github.com/acube/platform/tools/internal/stack"
)

// The faults of `make chaos-prod`: each is a chaos.Fault on the
// production topology, played by the chaos checker under load.

// NATSNodeKill SIGKILLs the NATS server that leads the JetStream meta
// group mid-load and starts it again on its store after hold: the
// streams are R3, so the other two keep a quorum, nothing is lost and
// nothing is refused.
func NATSNodeKill(t *Topology, hold time.Duration) chaos.Fault {
	var killed int
	return chaos.Fault{
		Name: "nats-node-kill",
		Break: func(ctx context.Context) error {
			i, err := t.NATS.metaLeader(ctx)
			if err != nil {
				return err
			}
			killed = i
			return t.NATS.Kill(i)
		},
		Heal: func(ctx context.Context) error {
			if err := t.NATS.Restart(ctx, killed); err != nil {
				return chaos.Unmet(fmt.Errorf("nats server %d not healthy again: %w", killed, err))
			}
			return nil
		},
		Hold:       hold,
		NoRefusals: true,
	}
}

// metaLeader returns the index of the server leading the JetStream meta
// group, as any healthy server's /jsz names it.
func (s *NATS) metaLeader(ctx context.Context) (int, error) {
	s.mu.Lock()
	nodes := s.nodes
	s.mu.Unlock()
	for _, n := range nodes {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+stack.Addr(n.monitor)+"/jsz", nil)
		if err != nil {
			return 0, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			continue
		}
		var v struct {
			Meta struct {
				Leader string `json:"leader"`
			} `json:"meta_cluster"`
		}
		err = json.NewDecoder(resp.Body).Decode(&v)
		resp.Body.Close()
		if err != nil || v.Meta.Leader == "" {
			continue
		}
		for i, m := range nodes {
			if m.name == v.Meta.Leader {
				return i, nil
			}
		}
	}
	return 0, errors.New("nats: no server names a meta leader")
}

// RedisFailover SIGKILLs the Redis primary. The Sentinels agree it is
// down after down-after-milliseconds and promote a replica; the gateway
// limits in process meanwhile (its breaker) and follows the new primary
// through the Sentinels, so it answers throughout. Heal waits for the
// promotion and starts the old primary again as a replica; the check
// wants every gateway pod counting in Redis again (not degraded).
func RedisFailover(t *Topology, hold time.Duration) chaos.Fault {
	var old string
	return chaos.Fault{
		Name: "redis-failover",
		Break: func(ctx context.Context) error {
			var err error
			old, err = t.Redis.KillPrimary(ctx)
			return err
		},
		Heal: func(ctx context.Context) error {
			if _, err := t.Redis.WaitFailover(ctx, old); err != nil {
				return chaos.Unmet(err)
			}
			if err := t.Redis.RestartAsReplica(ctx, old); err != nil {
				return chaos.Unmet(fmt.Errorf("old primary back as a replica: %w", err))
			}
			return nil
		},
		Check:      func(ctx context.Context) []string { return t.gatewaysDegraded(ctx) },
		Hold:       hold,
		NoRefusals: true,
	}
}

// gatewaysDegraded reports each gateway pod whose limiter is not back on
// Redis (gateway_ratelimit_redis_degraded is not 0).
func (t *Topology) gatewaysDegraded(ctx context.Context) []string {
	d, ok := t.Deployments["gateway"]
	if !ok {
		return []string{"no gateway Deployment"}
	}
	var out []string
	for _, p := range d.Pods() {
		v, found, err := chaos.MetricSum(ctx, "http://"+p.ProbeAddr+"/metrics", "gateway_ratelimit_redis_degraded")
		switch {
		case err != nil:
			out = append(out, p.Name+": "+err.Error())
		case !found:
			out = append(out, p.Name+": no gateway_ratelimit_redis_degraded")
		case v != 0:
			out = append(out, fmt.Sprintf("%s: rate limiter still degraded after the Redis failover", p.Name))
		}
	}
	return out
}

// PostgresRestart crashes PostgreSQL (immediate stop, every connection
// cut) and starts it again after hold.
func PostgresRestart(t *Topology, hold time.Duration) chaos.Fault {
	return chaos.RestartPostgres(t.Postgres.Postgres, hold)
}

// KillReplica SIGKILLs the oldest pod of a Deployment and restarts its
// container after hold, as the kubelet does; the other pod serves
// meanwhile. Requests the killed pod held, and those sent to it before its
// readiness probe failed, may be refused.
func KillReplica(t *Topology, name string, hold time.Duration) chaos.Fault {
	return chaos.Fault{
		Name: "kill-replica-" + name,
		Break: func(context.Context) error {
			d, ok := t.Deployments[name]
			if !ok {
				return fmt.Errorf("no Deployment %s", name)
			}
			return d.KillPod(0)
		},
		Heal: func(ctx context.Context) error {
			if err := t.Deployments[name].RestartPod(ctx, 0); err != nil {
				return chaos.Unmet(err)
			}
			return nil
		},
		Hold:       hold,
		MailerKill: name == "mailer",
	}
}

// RollingRestart replaces every pod of a Deployment under load as a
// rollout with maxUnavailable 0 does (Deployment.RollingRestart): a new
// pod ready behind the Service before an old one leaves it, preStop, then
// SIGTERM. Nothing may be refused.
func RollingRestart(t *Topology, name string) chaos.Fault {
	return chaos.Fault{
		Name: "rolling-restart-" + name,
		Break: func(ctx context.Context) error {
			d, ok := t.Deployments[name]
			if !ok {
				return fmt.Errorf("no Deployment %s", name)
			}
			if err := d.RollingRestart(ctx); err != nil {
				return chaos.Unmet(err)
			}
			return nil
		},
		Heal: func(context.Context) error {
			if n := len(t.Deployments[name].Balancer().Backends()); n != t.cfg.Replicas {
				return chaos.Unmet(fmt.Errorf("%s: %d pods ready after the rollout, want %d", name, n, t.cfg.Replicas))
			}
			return nil
		},
		Hold:       time.Second,
		NoRefusals: true,
	}
}

// Faults are every scenario of `make chaos-prod` in order: a NATS node
// killed, a Redis failover, a PostgreSQL restart, one pod of each
// Deployment killed, then a rolling restart of each.
func Faults(t *Topology, natsDown, redisDown, pgDown, killDown time.Duration) []chaos.Fault {
	fs := []chaos.Fault{NATSNodeKill(t, natsDown), RedisFailover(t, redisDown), PostgresRestart(t, pgDown)}
	for _, n := range stack.Services() {
		fs = append(fs, KillReplica(t, n, killDown))
	}
	for _, n := range stack.Services() {
		fs = append(fs, RollingRestart(t, n))
	}
	return fs
}

// FaultNames lists the names of Faults' scenarios, for a usage line.
func FaultNames() string {
	names := []string{"nats-node-kill", "redis-failover", "postgres-restart"}
	for _, n := range stack.Services() {
		names = append(names, "kill-replica-"+n)
	}
	for _, n := range stack.Services() {
		names = append(names, "rolling-restart-"+n)
	}
	return strings.Join(names, ",")
}
