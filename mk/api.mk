# The API contract (docs/api-contract.md): libs/apispec/openapi.json is the
# one source; the gateway's route table and both rate-limit files are
# generated from it.

.PHONY: generate lint-api

## generate: regenerate the gateway's route table and rate-limit files from libs/apispec/openapi.json
generate:
	cd tools && go run ./cmd/apigen

## lint-api: redocly's recommended rules over the OpenAPI document (0 errors), and the generated files current
lint-api:
	npx --yes @redocly/cli@2 lint --extends recommended libs/apispec/openapi.json
	cd tools && go test -count=1 -run 'Generated' ./cmd/apigen/
