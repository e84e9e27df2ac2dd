package account

import "github.com/acube/platform/libs/events"

// EventKey orders the event with the account's other events, after its
// creation (events.AccountCreated).
func (d DisabledEvent) EventKey() string { return events.AccountKey(d.AccountID) }
