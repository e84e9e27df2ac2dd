# Attack suite of issue 13 (docs/admin.md, "Revocation"; docs/booking.md).
# `make attack` starts the real services (as tools/e2e does: real
# PostgreSQL and Redis, in-process NATS and SMTP, loopback only) and
# drives the gateway as an attacker: refresh-token replay inside and after
# the grace, 8 concurrent refreshes with one token, a logged-out and a
# disabled admin's token at admin, booking and the exporter, tokens signed
# by a retired key and by a key never published (TestIntegrationAttackAdminTokens),
# registration enumeration and Idempotency-Key probing
# (TestIntegrationAttackBookingPrivacy). The same tests run in `make test`
# as part of tools/e2e. About a minute: the retired-key case waits out the
# verifiers' 30 s limit on key-set fetches.

.PHONY: attack
## attack: drive the gateway as an attacker (token replay, revocation, retired keys, enumeration, idempotency probing)
attack:
	cd tools && go test -count=1 -run 'Attack' ./e2e/
