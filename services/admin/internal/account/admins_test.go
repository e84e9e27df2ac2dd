package account_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/acube/platform/libs/keyset"
	"github.com/acube/platform/services/admin/internal/account"
)

func TestIntegrationThrottle(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	const owner = "198.51.100.1"

	// The owner logs in once from home: that address becomes known.
	if _, err := f.svc.Login(ctx, "root@example.org", superPassword, owner); err != nil {
		t.Fatal(err)
	}

	// One attacker address: 5 free failures, then back-off; even the right
	// password is refused while locked (it is not even checked).
	for i := range 5 {
		if _, err := f.svc.Login(ctx, "root@example.org", fmt.Sprintf("guess %d guess", i), "203.0.113.9"); !errors.Is(err, account.ErrInvalidCredentials) {
			t.Fatalf("attempt %d = %v", i, err)
		}
	}
	f.hasher.verifies.Store(0)
	var thr *account.ThrottledError
	if _, err := f.svc.Login(ctx, "root@example.org", superPassword, "203.0.113.9"); !errors.As(err, &thr) || thr.RetryAfter != time.Second {
		t.Fatalf("6th attempt = %v, want throttled for 1s", err)
	}
	if n := f.hasher.verifies.Load(); n != 0 {
		t.Fatalf("a throttled attempt ran %d verifications", n)
	}
	// The owner, elsewhere, is not locked out.
	if _, err := f.svc.Login(ctx, "root@example.org", superPassword, owner); err != nil {
		t.Fatalf("owner while an attacker is locked: %v", err)
	}

	// Many attacker addresses: after 20 failures across new addresses the
	// account-wide back-off refuses new addresses, but not the owner's.
	for i := range 20 {
		_, err := f.svc.Login(ctx, "root@example.org", "wrong wrong wrong", fmt.Sprintf("192.0.2.%d", i+1))
		if !errors.Is(err, account.ErrInvalidCredentials) {
			t.Fatalf("distributed attempt %d = %v", i, err)
		}
	}
	if _, err := f.svc.Login(ctx, "root@example.org", "wrong wrong wrong", "192.0.2.200"); !errors.As(err, &thr) {
		t.Fatalf("21st distributed attempt = %v, want throttled", err)
	}
	if _, err := f.svc.Login(ctx, "root@example.org", superPassword, owner); err != nil {
		t.Fatalf("owner from a known address during a distributed attack: %v", err)
	}
	// The lock is short: once it passes, a new address may try again.
	f.clock.Advance(2 * time.Second)
	if _, err := f.svc.Login(ctx, "root@example.org", superPassword, "192.0.2.201"); err != nil {
		t.Fatalf("after the back-off: %v", err)
	}

	// Unknown emails are throttled the same way: throttling reveals nothing.
	for range 5 {
		_, _ = f.svc.Login(ctx, "ghost@example.org", "whatever whatever", "203.0.113.50")
	}
	if _, err := f.svc.Login(ctx, "ghost@example.org", "whatever whatever", "203.0.113.50"); !errors.As(err, &thr) {
		t.Fatalf("unknown email after 5 failures = %v, want throttled", err)
	}
}

func TestIntegrationAdmins(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	super := f.superActor()

	if _, _, err := f.svc.Bootstrap(ctx, account.NewAccount{Email: "second@example.org", Name: "x", Password: superPassword}); !errors.Is(err, account.ErrBootstrapped) {
		t.Fatalf("second bootstrap = %v, want ErrBootstrapped", err)
	}
	ada := f.admin(t, "Ada@Example.org", account.RoleAdmin, adaPassword)
	adaActor := account.Actor{ID: ada.ID.String(), Email: ada.Email, Role: account.RoleAdmin}

	tests := []struct {
		name    string
		do      func() error
		wantErr error
		wantVal bool
	}{
		{name: "duplicate email", do: func() error {
			_, err := f.svc.Create(ctx, super, account.Invitee{Email: "ada@example.org", Name: "Ada", Role: account.RoleAdmin})
			return err
		}, wantErr: account.ErrEmailTaken},
		{name: "bad email", do: func() error {
			_, err := f.svc.Create(ctx, super, account.Invitee{Email: "b@", Name: "B", Role: account.RoleAdmin})
			return err
		}, wantVal: true},
		{name: "unknown role", do: func() error {
			_, err := f.svc.Create(ctx, super, account.Invitee{Email: "c@example.org", Name: "C", Role: "root"})
			return err
		}, wantVal: true},
		{name: "admin cannot create admins", do: func() error {
			_, err := f.svc.Create(ctx, adaActor, account.Invitee{Email: "d@example.org", Name: "D", Role: account.RoleSuperadmin})
			return err
		}, wantErr: account.ErrForbidden},
		{name: "admin cannot list admins", do: func() error { _, err := f.svc.List(ctx, adaActor, nil, 10); return err }, wantErr: account.ErrForbidden},
		{name: "admin cannot disable", do: func() error { _, err := f.svc.Disable(ctx, adaActor, f.super.ID); return err }, wantErr: account.ErrForbidden},
		{name: "admin cannot reset TOTP", do: func() error { _, err := f.svc.ResetTOTP(ctx, adaActor, f.super.ID); return err }, wantErr: account.ErrForbidden},
		{name: "superadmin cannot disable itself", do: func() error { _, err := f.svc.Disable(ctx, super, f.super.ID); return err }, wantErr: account.ErrSelf},
		{name: "superadmin cannot reset its own TOTP", do: func() error { _, err := f.svc.ResetTOTP(ctx, super, f.super.ID); return err }, wantErr: account.ErrSelf},
		{name: "no new invitation once accepted", do: func() error { _, err := f.svc.Reinvite(ctx, super, ada.ID); return err }, wantErr: account.ErrNotInvited},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.do()
			var ve *account.ValidationError
			if tt.wantVal {
				if !errors.As(err, &ve) {
					t.Fatalf("err = %v, want a validation error", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}

	s, err := f.svc.Login(ctx, "ada@example.org", adaPassword, "198.51.100.7")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authorize(ctx, ada.ID.String(), s.SessionID.String(), account.RoleAdmin); err != nil {
		t.Fatalf("Authorize before disabling: %v", err)
	}
	if _, err := f.svc.Disable(ctx, super, ada.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Login(ctx, "ada@example.org", adaPassword, "198.51.100.7"); !errors.Is(err, account.ErrInvalidCredentials) {
		t.Fatalf("disabled login = %v, want ErrInvalidCredentials", err)
	}
	if _, err := f.svc.Refresh(ctx, s.RefreshToken, "198.51.100.7"); !errors.Is(err, account.ErrInvalidRefresh) {
		t.Fatalf("disabled refresh = %v, want ErrInvalidRefresh", err)
	}
	if _, err := f.svc.Authorize(ctx, ada.ID.String(), s.SessionID.String(), account.RoleAdmin); !errors.Is(err, account.ErrSessionRevoked) {
		t.Fatalf("Authorize after disabling = %v, want ErrSessionRevoked", err)
	}
	page, err := f.svc.List(ctx, super, nil, 10)
	if err != nil || len(page.Items) != 2 || page.Next != nil || !page.Items[1].Disabled() || page.Items[1].Status() != account.StatusDisabled {
		t.Fatalf("List = %+v, %v", page, err)
	}
	// One per page: the first page points at the second, which is the last.
	first, err := f.svc.List(ctx, super, nil, 1)
	if err != nil || len(first.Items) != 1 || first.Next == nil {
		t.Fatalf("first page = %+v, %v", first, err)
	}
	next, err := keyset.Parse(first.Next.Encode())
	if err != nil {
		t.Fatal(err)
	}
	second, err := f.svc.List(ctx, super, &next, 1)
	if err != nil || len(second.Items) != 1 || second.Next != nil || second.Items[0].ID != page.Items[1].ID {
		t.Fatalf("second page = %+v, %v", second, err)
	}

	// Every action left its events in the outbox: the welcome event of
	// the bootstrap, the invitation, an audit event per action, and the
	// revocation of the disabled admin's sessions.
	var created, invited, revoked, audits int
	err = f.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE subject = 'admin.account.created'),
		count(*) FILTER (WHERE subject = 'admin.account.invited'),
		count(*) FILTER (WHERE subject = 'admin.sessions.revoked'),
		count(*) FILTER (WHERE subject LIKE 'audit.admin_account.%') FROM outbox`).Scan(&created, &invited, &revoked, &audits)
	if err != nil {
		t.Fatal(err)
	}
	if created != 1 || invited != 1 || revoked != 1 || audits < 5 {
		t.Fatalf("outbox has %d account.created, %d account.invited, %d sessions.revoked and %d audit events",
			created, invited, revoked, audits)
	}
}
