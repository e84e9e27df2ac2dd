# Gateway targets. `make bench-gateway` runs the DESIGN §7 gateway benchmark
# (tools/cmd/gatewaybench, docs/benchmarks-gateway.md): upstream direct,
# gateway without limits, gateway with Redis limits and nginx proxy_pass +
# limit_req (and the gateways on the net/http data path), in interleaved
# rounds on one machine; the limiter's decisions/s
# (services/gateway/cmd/limiterbench) against redis-benchmark -t incr; and
# the Redis cost of an over-limit flood. `make bench` collects its figures.

GATEWAY_BENCH_DURATION ?= 5s
# warm-up: the discarded pass before round 1, and each open loop's uncounted start
GATEWAY_BENCH_WARMUP ?= 1s
GATEWAY_BENCH_CONNS ?= 64
GATEWAY_BENCH_ROUNDS ?= $(BENCH_ROUNDS)
GATEWAY_BENCH_FLOOD ?= 100000
# e.g. GATEWAY_BENCH_FLAGS='-nethttp=false -rate 5000': see go run ./tools/cmd/gatewaybench run -h
# (bin/gatewaybench openloop -h measures the open-loop generator alone)
GATEWAY_BENCH_FLAGS ?=

.PHONY: bench-gateway build-gateway test-gateway swagger-ui

build-gateway:
	@mkdir -p bin
	cd services/gateway && go build -o ../../bin/gateway ./cmd/gateway

test-gateway: tools-deps
	cd services/gateway && go test -count=1 ./...

# swagger-ui: refresh the Swagger UI embedded in the gateway for /api/docs
# from npm (swagger-ui-dist@SWAGGER_UI_VERSION, install scripts off), then
# update services/gateway/internal/openapi/assets/README.md as it says.
SWAGGER_UI_VERSION ?= 5.35.0
SWAGGER_UI_ASSETS := services/gateway/internal/openapi/assets
swagger-ui:
	@set -e; d=$$(mktemp -d); trap 'rm -rf "$$d"' EXIT; \
	(cd "$$d" && npm init -y >/dev/null && npm install --ignore-scripts --no-audit --no-fund --save-exact swagger-ui-dist@$(SWAGGER_UI_VERSION) >/dev/null); \
	src="$$d/node_modules/swagger-ui-dist"; \
	cp "$$src/swagger-ui-bundle.js" "$$src/swagger-ui.css" "$$src/swagger-ui-bundle.js.LICENSE.txt" "$$src/LICENSE" "$$src/NOTICE" $(SWAGGER_UI_ASSETS)/; \
	echo "swagger-ui-dist $$(node -p "require('$$src/package.json').version") integrity $$(node -p "require('$$d/package-lock.json').packages['node_modules/swagger-ui-dist'].integrity")"; \
	cd $(SWAGGER_UI_ASSETS) && sha256sum swagger-ui-bundle.js swagger-ui.css

bench-gateway: build-gateway
	@for t in nginx wrk redis-benchmark taskset; do \
		command -v $$t >/dev/null || { echo "installing nginx, wrk, redis-tools"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx wrk redis-tools util-linux; break; }; \
	done
	cd services/gateway && go build -o ../../bin/limiterbench ./cmd/limiterbench
	go build -o bin/gatewaybench ./tools/cmd/gatewaybench
	taskset -c 1 bin/gatewaybench run -gateway bin/gateway -limiterbench bin/limiterbench -duration $(GATEWAY_BENCH_DURATION) -warmup $(GATEWAY_BENCH_WARMUP) \
		-conns $(GATEWAY_BENCH_CONNS) -rounds $(GATEWAY_BENCH_ROUNDS) -flood $(GATEWAY_BENCH_FLOOD) $(GATEWAY_BENCH_FLAGS)
