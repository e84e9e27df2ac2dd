# Every benchmark in one report, and every fuzz target for a set time.
#
#   make bench                     every bench-* target, one after another, then
#                                  docs/benchmarks.md and docs/benchmarks/*.svg
#   make bench BENCH_TARGETS=bench-e2e,bench-booking   a subset
#   make bench BENCH_KEEP=1        also keep the report as docs/benchmarks/run-<date>-<n>.md
#   make bench-compare             the two newest kept reports side by side (every
#                                  ratio, its difference, within ±15 % or not);
#                                  BENCH_COMPARE='old.md new.md' for two others
#   make bench-e2e                 booking accepted → email accepted by SMTP, and
#                                  the outbox relay against nats bench
#   make fuzz                      each fuzz target for FUZZTIME (30s), in turn
#   make fuzz FUZZTIME=20s FUZZ=Window   only targets whose name contains Window
#
# Each bench target keeps its own knobs (BENCH_CLIENTS, GATEWAY_BENCH_DURATION,
# BENCH_EXPORT_ROWS, BENCH_MAILER_FLAGS, E2E_BENCH_FLAGS...); make passes
# them on to the targets `make bench` runs. BENCH_ROUNDS (default 5) is the
# number of interleaved rounds of every comparison (system, reference,
# reference, system…): each reports the median ratio and its min–max, and
# `make bench` warns, naming the target to re-run, when that spread is
# wider than ±15 %.

BENCH_TARGETS ?= bench-gateway,bench-booking,bench-mailer,bench-export,bench-e2e
BENCH_ROUNDS ?= 5
export BENCH_ROUNDS
BENCH_KEEP ?=
BENCH_COMPARE ?=
# e.g. E2E_BENCH_FLAGS=-gateway to book through the gateway; -rates, -step,
# -steady-rate, -steady, -events (200000 per side per round), -mode relay
# (the relay against nats bench only), -relay-sync-commit: see
# go run ./tools/cmd/e2ebench -h and docs/benchmarks-relay.md
E2E_BENCH_FLAGS ?=
NATSCLI_VERSION := v0.5.0
FUZZTIME ?= 30s
FUZZ ?=
FUZZFLAGS ?=

.PHONY: bench bench-compare bench-e2e fuzz

## bench: run every benchmark and write docs/benchmarks.md with charts
bench:
	@go run ./tools/cmd/benchreport -targets '$(BENCH_TARGETS)' $(if $(BENCH_KEEP),-keep)

## bench-compare: every figure of two kept bench reports side by side
bench-compare:
	@go run ./tools/cmd/benchreport -compare $(BENCH_COMPARE)

## bench-e2e: booking → email p50/p99 under open-loop load; outbox relay vs nats bench
bench-e2e: $(BIN)/nats
	@go run ./tools/cmd/e2ebench -nats $(BIN)/nats -rounds $(BENCH_ROUNDS) $(E2E_BENCH_FLAGS)

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
