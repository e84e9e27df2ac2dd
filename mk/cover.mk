# Statement coverage of every module (issue 16; docs/testing.md).
# `make cover` runs each module's tests like make test, with
# -coverpkg=./... (a package tested through another counts), merges the
# profiles and prints one table: module, coverage, target (libs >= 80 %,
# each service >= 85 %), PASS/FAIL, then the 10 least-covered packages of
# each module. Exits non-zero when a module's tests fail or it is under
# its target. Profiles stay in .data/cover (go tool cover -html=...).
#   COVER_MODULES="libs services/booking"   measure only these modules
#   COVER_FLAGS="-gotest '-p 1'"             more flags for tools/cmd/cover
#   make cover-report                        the table again, from the last run's profiles
COVER_MODULES ?= $(MODULES)
COVER_FLAGS   ?=

.PHONY: cover cover-report
## cover: every module's tests with coverage; table of modules against their targets
cover: tools-deps contract-deps $(BIN)/mailpit
	@go run ./tools/cmd/cover $(COVER_FLAGS) $(COVER_MODULES)

## cover-report: the coverage table of the last make cover, without running tests
cover-report:
	@go run ./tools/cmd/cover -report $(COVER_FLAGS) $(COVER_MODULES)
