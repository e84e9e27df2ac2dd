package store

import (
	"github.com/acube/platform/services/admin/internal/account"
	"github.com/acube/platform/services/admin/internal/job"
)

// Compile-time checks that the store implements the domain's interfaces.
var (
	_ account.Store = (*Accounts)(nil)
	_ account.Tx    = accountTx{}
	_ job.Store     = (*Jobs)(nil)
	_ job.Tx        = jobTx{}
)
