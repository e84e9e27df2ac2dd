package authntest

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/acube/platform/libs/authn"
	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/testkit"
)

// Status returns a probe that GETs url through client with token as its
// bearer and gives the answer's status, or 0 when the request failed (the
// service is not listening yet).
func Status(t testing.TB, client *http.Client, url string) func(token string) int {
	return func(token string) int {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
}

// Revoked are the tokens CheckRevocations leaves behind, for a test that
// goes on (a restarted service must refuse and accept the same ones).
type Revoked struct {
	// LoggedOut is the token of the session that logged out.
	LoggedOut string
	// Disabled is the token of the disabled admin's other session.
	Disabled string
	// Fresh is a token of the disabled admin issued after the disable.
	Fresh string
}

// CheckRevocations checks, against a running service whose ADMIN stream
// exists, what every service that verifies admin tokens promises (issue
// 13, finding 2): it refuses the token of a logged-out session within a
// second of the admin.sessions.revoked event and keeps serving the admin's
// other session; once the admin is disabled it refuses every older token
// within a second, but not one issued after. status probes the service
// (Status); name names it in the log.
func CheckRevocations(t *testing.T, iss *Issuer, js jetstream.JetStream, name string, status func(token string) int) Revoked {
	t.Helper()
	// until polls finely until token gets want and says how long it took.
	until := func(token string, want int) time.Duration {
		t.Helper()
		begin := time.Now()
		testkit.EventuallyErr(t, fmt.Sprintf("the token to get %d", want), func() error {
			if got := status(token); got != want {
				return fmt.Errorf("status %d", got)
			}
			return nil
		}, testkit.Interval(5*time.Millisecond))
		return time.Since(begin)
	}
	within := func(what string, took time.Duration) {
		t.Helper()
		t.Logf("%s refused at %s after %s", what, name, took)
		if took > time.Second {
			t.Errorf("%s took %s to reach %s, want within a second", what, took, name)
		}
	}

	laptop := NewSession(authn.RoleAdmin)
	phone := laptop
	phone.ID = uuid.NewString()
	issued := time.Now().Add(-time.Minute)
	r := Revoked{LoggedOut: iss.Token(t, laptop, issued), Disabled: iss.Token(t, phone, issued)}
	until(r.LoggedOut, http.StatusOK)

	Revoke(t, js, events.SessionsRevoked{AdminID: laptop.AdminID, SessionID: laptop.ID, NotBefore: time.Now(), Reason: events.RevokeReasonLogout})
	within("logout", until(r.LoggedOut, http.StatusUnauthorized))
	if got := status(r.Disabled); got != http.StatusOK {
		t.Errorf("the admin's other session after a logout: %d, want 200", got)
	}

	disabledAt := time.Now()
	Revoke(t, js, events.SessionsRevoked{AdminID: laptop.AdminID, NotBefore: disabledAt, Reason: events.RevokeReasonDisabled})
	within("disable", until(r.Disabled, http.StatusUnauthorized))
	fresh := phone
	fresh.ID = uuid.NewString()
	r.Fresh = iss.Token(t, fresh, authn.RevokeBefore(disabledAt))
	if got := status(r.Fresh); got != http.StatusOK {
		t.Errorf("token issued after the disable's NotBefore: %d, want 200", got)
	}
	return r
}
