package account

import "time"

// Policy is one back-off rule of login throttling (docs/admin.md): the
// first Free failures cost nothing; after that each failure locks the key
// for Base, doubling per further failure up to Max. Attempts refused while
// locked are not counted, so hammering a locked account does not extend
// its lock. A key that stays quiet for Reset after its lock ends forgets
// its failures.
type Policy struct {
	Free  int
	Base  time.Duration
	Max   time.Duration
	Reset time.Duration
}

// ThrottleState is the failure count of one throttle key.
type ThrottleState struct {
	Key         string
	Failures    int
	LastAt      time.Time
	LockedUntil time.Time
}

// Admit decides an attempt at now. When it admits, it counts the attempt
// as a failure in advance (a success resets the key), so parallel
// attempts cannot slip past the count; when it refuses it says how long
// to wait and leaves st unchanged.
func (p Policy) Admit(st *ThrottleState, now time.Time) (bool, time.Duration) {
	if now.Before(st.LockedUntil) {
		return false, st.LockedUntil.Sub(now)
	}
	quietSince := st.LastAt
	if st.LockedUntil.After(quietSince) {
		quietSince = st.LockedUntil
	}
	if !quietSince.IsZero() && now.Sub(quietSince) > p.Reset {
		st.Failures = 0
	}
	st.Failures++
	st.LastAt = now
	if st.Failures >= p.Free {
		st.LockedUntil = now.Add(p.delay(st.Failures - p.Free))
	}
	return true, 0
}

func (p Policy) delay(n int) time.Duration {
	d := p.Base
	for range n {
		if d >= p.Max {
			return p.Max
		}
		d *= 2
	}
	return min(d, p.Max)
}

// Throttle is the pair of rules applied to a login: one per account and
// client address, and one per account across all clients that have not
// logged in to it successfully before.
type Throttle struct {
	Client  Policy
	Account Policy
	// KnownFor is how long a successful login exempts its client address
	// from the account-wide rule.
	KnownFor time.Duration
}

func clientKey(email, ip string) string { return "client:" + email + "|" + ip }
func accountKey(email string) string    { return "account:" + email }
