# Every benchmark in one report, and every fuzz target for a set time.
#
#   make bench                     every bench-* target, one after another, then
#                                  docs/benchmarks.md and docs/benchmarks/*.svg
#   make bench BENCH_TARGETS=bench-e2e,bench-booking   a subset
#   make bench-e2e                 booking accepted → email accepted by SMTP, and
#                                  the outbox relay against nats bench
#   make fuzz                      each fuzz target for FUZZTIME (30s), in turn
#   make fuzz FUZZTIME=20s FUZZ=Window   only targets whose name contains Window
#
# Each bench target keeps its own knobs (BENCH_CLIENTS, GATEWAY_BENCH_DURATION,
# BENCH_EXPORT_ROWS, BENCH_MAILER_FLAGS, E2E_BENCH_FLAGS...); make passes
# them on to the targets `make bench` runs.

BENCH_TARGETS ?= bench-gateway,bench-booking,bench-mailer,bench-export,bench-e2e
# e.g. E2E_BENCH_FLAGS=-gateway to book through the gateway; -rates, -step,
# -steady-rate, -steady, -events: see go run ./tools/cmd/e2ebench -h
E2E_BENCH_FLAGS ?=
NATSCLI_VERSION := v0.5.0
FUZZTIME ?= 30s
FUZZ ?=
FUZZFLAGS ?=

.PHONY: bench bench-e2e fuzz

## bench: run every benchmark and write docs/benchmarks.md with charts
bench:
	@go run ./tools/cmd/benchreport -targets '$(BENCH_TARGETS)'

## bench-e2e: booking → email p50/p99 under open-loop load; outbox relay vs nats bench
bench-e2e: $(BIN)/nats
	@go run ./tools/cmd/e2ebench -nats $(BIN)/nats $(E2E_BENCH_FLAGS)

$(BIN)/nats:
	@echo "building natscli $(NATSCLI_VERSION) for nats bench (once)"
	@GOWORK=off GOBIN=$(BIN) go install github.com/nats-io/natscli/nats@$(NATSCLI_VERSION) || \
		echo "natscli did not build: e2ebench uses its own async publish loop as the reference"

## fuzz: every Fuzz* target of every module for FUZZTIME each; finds are
## written to the package's testdata/fuzz/<Name>/ and stay as regression tests
fuzz:
	@failed=""; \
	for f in $$(grep -rl --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]+\(' libs services tools | sort); do \
	  pkg=./$$(dirname $$f); \
	  for name in $$(sed -nE 's/^func (Fuzz[A-Za-z0-9_]+)\(.*/\1/p' $$f); do \
	    case "$$name" in *$(FUZZ)*) ;; *) continue;; esac; \
	    echo "== $$name ($$pkg, $(FUZZTIME))"; \
	    go test -run='^$$' -fuzz="^$$name\$$" -fuzztime=$(FUZZTIME) $(FUZZFLAGS) $$pkg 2>&1 | grep -v '^fuzz: elapsed'; \
	    if [ "$${PIPESTATUS[0]}" != 0 ]; then failed="$$failed $$name"; fi; \
	  done; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: failing inputs (see testdata/fuzz/):$$failed"; exit 1; fi; \
	echo "fuzz: every target passed"
