# Gateway targets. `make bench-gateway` runs the DESIGN §7 gateway benchmark:
# upstream direct, gateway without limits, gateway with Redis limits and
# nginx proxy_pass + limit_req, one run, one machine; then the limiter's
# decisions/s against redis-benchmark -t incr. Record the figures in
# docs/benchmarks.md.

GATEWAY_BENCH_DURATION ?= 8s
GATEWAY_BENCH_CONNS ?= 64

.PHONY: bench-gateway build-gateway test-gateway

build-gateway:
	@mkdir -p bin
	cd services/gateway && go build -o ../../bin/gateway ./cmd/gateway && go build -o ../../bin/gatewaybench ./cmd/gatewaybench

test-gateway:
	cd services/gateway && go test -count=1 ./...

bench-gateway: build-gateway
	@for t in nginx wrk redis-benchmark taskset; do \
		command -v $$t >/dev/null || { echo "installing nginx, wrk, redis-tools"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx wrk redis-tools util-linux; break; }; \
	done
	taskset -c 1 bin/gatewaybench run -gateway bin/gateway -duration $(GATEWAY_BENCH_DURATION) -conns $(GATEWAY_BENCH_CONNS)
	cd services/gateway && go test -run '^$$' -bench 'Decisions' -benchtime 2s ./internal/ratelimit
