# A-Cube platform. The two commands: `make run` starts everything locally,
# `make test` runs every test. Per-area targets live in mk/*.mk.
SHELL := /bin/bash
MODULES := libs services/gateway services/booking services/admin services/mailer services/exporter tools

.PHONY: test
test:
	@set -e; for m in $(MODULES); do echo "== $$m"; (cd $$m && go test -count=1 ./...); done

-include mk/*.mk
