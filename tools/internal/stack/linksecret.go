package stack

import (
	"encoding/hex"
	"fmt"

	"github.com/acube/platform/libs/managelink"
)

// LinkSecretEnv is the environment that gives booking (which verifies
// manage links) and the mailer (which mints them) one shared secret: the
// one kept in dir/link-secret, created with a random value on first use,
// so links sent before a restart keep working.
func LinkSecretEnv(dir string) ([]string, error) {
	secret, err := managelink.LoadOrCreateSecret("", dir)
	if err != nil {
		return nil, fmt.Errorf("manage-link secret: %w", err)
	}
	v := hex.EncodeToString(secret)
	return []string{"BOOKING_LINK_SECRET=" + v, "MAILER_LINK_SECRET=" + v}, nil
}
