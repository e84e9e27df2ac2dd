# The API checked by tools we did not write (issue 14; docs/contract.md).
# `make contract` lints libs/apispec/openapi.json with redocly (recommended
# rules), starts the whole stack on free ports with its own database, NATS
# server and SMTP sink (generous rate limits, so the run is never
# throttled), seeds the records the operations need, and runs a
# Portman-generated collection with Newman: contract tests (status,
# content type, JSON schema, headers) on every operation and variations
# for its error paths. Exits non-zero on any failure or uncovered
# operation. A few minutes.
#   CONTRACT_DIR=/tmp/c   keep the collection and Newman's report there
#   CONTRACT_VERBOSE=true show the services' logs
CONTRACT_TOOLS := tools/contract

.PHONY: contract contract-deps
## contract: check the live API against its OpenAPI document (redocly lint, Portman + Newman)
contract: contract-deps
	@go run ./tools/cmd/contract

## contract-deps: install the pinned npm tools of make contract (npm ci, once)
contract-deps: $(CONTRACT_TOOLS)/node_modules/.package-lock.json

$(CONTRACT_TOOLS)/node_modules/.package-lock.json: $(CONTRACT_TOOLS)/package-lock.json
	@command -v npm >/dev/null || { echo "make contract needs Node.js 20+ and npm"; exit 1; }
	@cd $(CONTRACT_TOOLS) && npm ci --no-audit --no-fund --loglevel=error

# make test runs the contract once too (TestIntegrationContract in
# tools/internal/contract, a few minutes of its 15): the tools must be there.
test: contract-deps
