package account

import "github.com/acube/platform/libs/keyset"

// Page is one page of accounts, oldest first by (created_at, id); Next
// is set exactly when more follow.
type Page struct {
	Items []Account
	Next  *keyset.Cursor
}
