# Mailer targets (services/mailer). Included by the root Makefile.

.PHONY: bench-mailer mailer-preview mailer-test

# Emails per second through the mailer against a bare SMTP send loop to the
# same sink (DESIGN §7, target >= 0.8x). Needs the local PostgreSQL; prints
# the figures and writes them to docs/benchmarks-mailer.md.
BENCH_MAILER_FLAGS ?=
bench-mailer:
	go run ./services/mailer/cmd/mailbench -out docs/benchmarks-mailer.md -rounds $(BENCH_ROUNDS) $(BENCH_MAILER_FLAGS)

# Every email rendered with sample data into .data/mail-preview as
# NAME.html, NAME.txt and NAME.eml; nothing is sent.
mailer-preview:
	go run ./services/mailer/cmd/mailer preview -out .data/mail-preview all

mailer-test:
	cd services/mailer && go test -count=1 ./...
