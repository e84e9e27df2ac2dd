// Package outboxtest reads what a service's change wrote to its outbox
// table, for the tests that check which events a use case emits (before
// the relay publishes them, or without one).
package outboxtest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/acube/platform/libs/events"
)

// Events returns the decoded events of subject in the outbox of pool's
// schema, oldest first.
func Events(t testing.TB, pool *pgxpool.Pool, subject string) []events.Event {
	t.Helper()
	return query(t, pool, `SELECT payload FROM outbox WHERE subject = $1 ORDER BY seq`, subject)
}

// Prefixed returns the decoded events whose subject begins with prefix,
// oldest first.
func Prefixed(t testing.TB, pool *pgxpool.Pool, prefix string) []events.Event {
	t.Helper()
	return query(t, pool, `SELECT payload FROM outbox WHERE starts_with(subject, $1) ORDER BY seq`, prefix)
}

// Data returns the payloads of evs decoded as T (events.SessionsRevoked,
// events.AccountInvited, ...), in order.
func Data[T any](t testing.TB, evs []events.Event) []T {
	t.Helper()
	out := make([]T, 0, len(evs))
	for _, ev := range evs {
		var d T
		if err := ev.UnmarshalData(&d); err != nil {
			t.Fatalf("outboxtest: data of %s event %s: %v", ev.Type, ev.ID, err)
		}
		out = append(out, d)
	}
	return out
}

func query(t testing.TB, pool *pgxpool.Pool, sql, arg string) []events.Event {
	t.Helper()
	rows, err := pool.Query(context.Background(), sql, arg)
	if err != nil {
		t.Fatalf("outboxtest: read the outbox: %v", err)
	}
	defer rows.Close()
	var out []events.Event
	for rows.Next() {
		var raw []byte
		if err := rows.Scan(&raw); err != nil {
			t.Fatalf("outboxtest: read the outbox: %v", err)
		}
		ev, err := events.Decode(raw)
		if err != nil {
			t.Fatalf("outboxtest: decode an outbox payload: %v", err)
		}
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("outboxtest: read the outbox: %v", err)
	}
	return out
}
