package account_test

import (
	"context"
	"errors"
	"testing"

	"github.com/acube/platform/services/admin/internal/account"
)

// TestCheckInvitation: the invitation page asks before anyone types a
// password; the answer is AcceptInvitation's, and asking spends nothing.
func TestCheckInvitation(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.svc.Create(ctx, f.superActor(), account.Invitee{Email: "new@example.org", Name: "New One", Role: account.RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	tok := f.lastInvitation(t)

	for _, tt := range []struct {
		name  string
		token string
		want  error
	}{
		{name: "the emailed token", token: tok, want: nil},
		{name: "asked twice, still good", token: tok, want: nil},
		{name: "forged", token: "forged", want: account.ErrInvitationInvalid},
		{name: "empty", token: "", want: account.ErrInvitationInvalid},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := f.svc.CheckInvitation(ctx, tt.token); !errors.Is(err, tt.want) {
				t.Fatalf("CheckInvitation = %v, want %v", err, tt.want)
			}
		})
	}
	if err := f.svc.AcceptInvitation(ctx, tok, "a long and unusual passphrase", "198.51.100.9"); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.CheckInvitation(ctx, tok); !errors.Is(err, account.ErrInvitationUsed) {
		t.Fatalf("after acceptance: %v, want ErrInvitationUsed", err)
	}
}
