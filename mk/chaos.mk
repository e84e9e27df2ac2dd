# Chaos run (docs/chaos.md). `make chaos` builds everything, then starts a
# platform of its own (own PostgreSQL cluster, redis-server, in-process
# NATS, Mailpit behind an SMTP fault proxy, the five services behind
# balancers; loopback, free ports, a temporary directory), drives a mixed
# load through it while it kills each service, stops NATS and Redis,
# crashes PostgreSQL, slows SMTP, takes DEADLETTER away, runs two replicas,
# writes a poison outbox row and restarts everything with NATS down, and
# prints one table. It never touches the shared PostgreSQL/Redis or a
# running `make run`.
#   CHAOS_FLAGS="-only kill-mailer,nats-down -rate 10 -requests 200 -keep"
#   CHAOS_FLAGS="-only slow-smtp"   (or deadletter-outage, two-relays,
#                                    poison-row, nats-down-at-start)
CHAOS_FLAGS ?=

.PHONY: chaos
## chaos: mixed load under faults; checks nothing accepted was lost, duplicated or misordered
chaos: build
	@go run ./tools/cmd/chaos -bin $(BIN) $(CHAOS_FLAGS)

# The same checker on the production topology (docs/prodlike.md, make
# prodlike): a NATS node killed, a Redis failover, a PostgreSQL restart,
# one pod of each service killed and a rolling restart of each, under
# load; rows need lost 0, duplicated 0, rejected 0, and refused 0 for the
# node kill, the failover and every rollout (docs/chaos.md, "Production
# topology").
#   CHAOS_PROD_FLAGS="-only redis-failover,rolling-restart-gateway -keep"
CHAOS_PROD_FLAGS ?=

.PHONY: chaos-prod
## chaos-prod: the chaos checker on the production topology (make prodlike): node kill, failover, pod kills, rolling restarts
chaos-prod: build $(BIN)/nats-server
	@go run ./tools/cmd/chaos -prod -bin $(BIN) $(CHAOS_PROD_FLAGS)
