# The production topology on one machine (docs/prodlike.md). `make prodlike`
# renders deploy/k8s/overlays/prod with the Kustomize API and runs what it
# describes as local processes on loopback with free ports under a
# temporary directory: a 3-node NATS JetStream cluster, Redis with 3
# Sentinels, PostgreSQL with the CloudNativePG roles and bootstrap SQL, the
# migrate step, two pods of every Deployment behind a readiness-aware
# balancer per Service, Mailpit. It prints where everything is and runs
# until Ctrl-C; it never touches the shared PostgreSQL/Redis/NATS or a
# running `make run`.
#   PRODLIKE_FLAGS="-check"     bring it up, send the seed's booking, wait
#                               for its email, exit
#   PRODLIKE_FLAGS="-keep"      keep the directory (logs, data) afterwards
PRODLIKE_FLAGS ?=

.PHONY: prodlike prodlike-check
## prodlike: run the prod overlay on this machine (3 NATS, Redis + 3 Sentinels, PostgreSQL, 2 pods per service)
prodlike: build $(BIN)/nats-server
	@go run ./tools/cmd/prodlike -bin $(BIN) $(PRODLIKE_FLAGS)

## prodlike-check: bring the production topology up, book the seed's session through it, wait for the email
prodlike-check: build $(BIN)/nats-server
	@go run ./tools/cmd/prodlike -bin $(BIN) -check

# The nats-server the platform's modules pin (tools/go.mod), not the
# distribution's (too old for JetStream priority groups).
$(BIN)/nats-server: tools/go.mod
	@cd tools && go build -o $(BIN)/nats-server github.com/nats-io/nats-server/v2
