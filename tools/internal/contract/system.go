package contract

import (
	"context"
	"io"
	"path/filepath"
	"strings"

	"github.com/emersion/go-smtp"

	"github.com/acube/platform/libs/smtptest"
	"github.com/acube/platform/tools/internal/stack"
)

// DeadAddress is a recipient the run's SMTP sink refuses for good (550),
// so the mailer dead-letters the messages to it and the dead-letter
// operations have something to show, replay and discard.
const DeadAddress = "undeliverable@example.com"

// generous is every gateway tier's window for the run: the tester sends a
// few hundred requests a minute from one address, and a 429 would be a
// failure of the run, not of the API. The limiter stays on, so the
// rate-limit headers the document promises are still sent and checked.
const generous = "100000/minute,1000000/hour"

// runEnv is what the contract run changes in the services' configuration.
var runEnv = []string{
	"LOG_LEVEL=warn",
	// The tester is one client sending hundreds of requests, many of
	// them wrong on purpose: neither the gateway's tiers nor the admin
	// service's login back-off may answer for the API under test.
	"RATELIMIT_PUBLIC=" + generous, "RATELIMIT_ADMIN=" + generous, "RATELIMIT_AUTH=" + generous,
	"RATELIMIT_UPLOAD=" + generous, "RATELIMIT_EXPORT=" + generous,
	"ADMIN_THROTTLE_CLIENT_FREE=100000", "ADMIN_THROTTLE_ACCOUNT_FREE=100000",
	// A refused recipient is dead-lettered quickly.
	"MAILER_MAX_ATTEMPTS=2", "MAILER_RETRY_BACKOFF=100ms",
}

// startSystem builds the services into dir/bin and starts the whole
// platform with stack's launcher, on a fresh database of the server
// adminURL names (dropped at Close), keeping its files under dir and
// sending the services' lines to out.
func startSystem(ctx context.Context, root, dir, adminURL string, out io.Writer) (*stack.System, error) {
	return stack.StartSystem(ctx, stack.SystemConfig{
		Root: root, Bin: filepath.Join(dir, "bin"), Build: true, DataDir: dir,
		DatabaseURL: adminURL, FreshDatabase: true, Name: "contract",
		SMTP: smtptest.Options{Rcpt: refuseDead}, Env: runEnv, Output: out,
	})
}

// refuseDead refuses DeadAddress for good and takes every other recipient.
func refuseDead(to string) error {
	if strings.EqualFold(to, DeadAddress) {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	}
	return nil
}
