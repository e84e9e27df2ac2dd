# Exporter targets. `make bench-export` measures the audit export of
# 1,000,000 rows, streamed into the EXPORTS bucket of an in-process
# JetStream server as the service stores it, against psql's \copy on the
# same data, over interleaved rounds in one run (medians, the ratio's
# spread, CPU time of each side), and the peak memory of the export and of
# reading it back at 100k and 1M rows (docs/benchmarks-export.md).
BENCH_EXPORT_ROWS ?= 1000000
BENCH_EXPORT_SMALL ?= 100000
# exports of BENCH_EXPORT_SMALL rows per side per round, timed together: one
# lasts ~0.3 s, too short to time alone on a shared machine
BENCH_EXPORT_SMALL_REPEAT ?= 6
BENCH_EXPORT_ROUNDS ?= $(BENCH_ROUNDS)
BENCH_EXPORT_DB ?= postgres://postgres@127.0.0.1:5432/acube_bench_export?sslmode=disable
# BENCH_EXPORT_FLAGS=-reuse keeps the generated rows of an earlier run;
# -profile DIR adds CPU profiles of one more export and download.
BENCH_EXPORT_FLAGS ?=

.PHONY: bench-export
bench-export:
	@mkdir -p bin
	cd services/exporter && go build -o ../../bin/exportbench ./cmd/exportbench
	./bin/exportbench -rows $(BENCH_EXPORT_ROWS) -small $(BENCH_EXPORT_SMALL) -small-repeat $(BENCH_EXPORT_SMALL_REPEAT) -rounds $(BENCH_EXPORT_ROUNDS) -db '$(BENCH_EXPORT_DB)' $(BENCH_EXPORT_FLAGS)
