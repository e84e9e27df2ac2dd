# Booking benchmarks (docs/benchmarks-booking.md).
.PHONY: bench-booking

## bench-booking: booking write path (row + outbox, one tx) vs pgbench, same statements and clients
##   BENCH_CLIENTS (8), BENCH_DURATION (15s), BENCH_DATABASE_URL (a scratch database it recreates)
bench-booking:
	@cd services/booking && go run ./cmd/bookbench
