# A-Cube platform.
#   make run   — build and start the whole system locally (first command)
#   make test  — run every test of every module (second command)
# Per-area targets (benchmarks and such) live in mk/*.mk.
SHELL := /bin/bash
export GOFLAGS := -buildvcs=false

MODULES  := libs services/gateway services/booking services/admin services/mailer services/exporter tools
SERVICES := gateway booking admin mailer exporter
MAILPIT_VERSION := v1.33.1
BIN := $(CURDIR)/bin

.PHONY: run build test test-short tools-deps vet tidy clean docs

## run: build everything, then start NATS (in process), Mailpit and the five services
run: build
	@$(BIN)/devstack

## build: the five services, the launcher and Mailpit into ./bin
build: $(BIN)/mailpit
	@go build -o $(BIN)/ $(foreach s,$(SERVICES),./services/$(s)/cmd/$(s)) ./tools/cmd/devstack

$(BIN)/mailpit:
	@echo "building Mailpit $(MAILPIT_VERSION) (once; about 90 s)"
	@GOWORK=off GOBIN=$(BIN) go install github.com/axllent/mailpit@$(MAILPIT_VERSION)

## test: every module's tests against real PostgreSQL, Redis and NATS (the
## pages' browser test reads real emails in Mailpit: built once, ~90 s)
test: tools-deps test-deploy $(BIN)/mailpit
	@failed=""; for m in $(MODULES); do echo "== $$m"; (cd $$m && go test -count=1 ./...) || failed="$$failed $$m"; done; \
	if [ -n "$$failed" ]; then echo "FAILED in:$$failed"; exit 1; fi

## tools-deps: programs the tests drive: Debian's Chromium, headless, for the
## gateway's /api/docs test (TestDocsRenderInHeadlessChromium) and the pages'
## test (tools/e2e TestIntegrationPagesInHeadlessChromium)
tools-deps:
	@command -v chromium >/dev/null || { echo "installing chromium (headless browser tests)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

## test-short: only the tests that need no server
test-short:
	@set -e; for m in $(MODULES); do (cd $$m && go test -short -count=1 ./...); done

## docs: regenerate the README's environment-variable table from the config structs
docs:
	@go run ./tools/cmd/envdoc

vet:
	@set -e; for m in $(MODULES); do (cd $$m && go vet ./...); done

tidy:
	@set -e; for m in $(MODULES); do (cd $$m && go mod tidy); done

clean:
	rm -rf $(BIN) .data

-include mk/*.mk
