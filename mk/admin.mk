# Admin service targets (included by the root Makefile).

.PHONY: admin-run admin-bootstrap admin-test admin-test-short

## admin-run: run the admin service with the local defaults
admin-run:
	go run ./services/admin/cmd/admin

## admin-bootstrap EMAIL=you@example.org: create the first superadmin (password on stdin)
admin-bootstrap:
	@test -n "$(EMAIL)" || { echo "usage: make admin-bootstrap EMAIL=you@example.org"; exit 2; }
	go run ./services/admin/cmd/admin bootstrap --email "$(EMAIL)"

## admin-test: the admin service's and libs/authn's tests (needs PostgreSQL)
admin-test:
	cd services/admin && go test -count=1 ./...
	cd libs && go test -count=1 ./authn/...

## admin-test-short: the tests that need no server
admin-test-short:
	cd services/admin && go test -count=1 -short ./...
	cd libs && go test -count=1 -short ./authn/...
