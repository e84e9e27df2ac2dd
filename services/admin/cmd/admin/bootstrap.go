package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	libconfig "github.com/acube/platform/libs/config"
	"github.com/acube/platform/libs/logging"
	"github.com/acube/platform/services/admin/internal/account"
	"github.com/acube/platform/services/admin/internal/config"
	"github.com/acube/platform/services/admin/internal/password"
	"github.com/acube/platform/services/admin/internal/store"
)

// bootstrap creates the first superadmin and enrols its TOTP factor,
// printing the key and recovery codes once. The password comes from stdin
// (echo off on a terminal), never from a flag or a default, so it is not
// left in shell history or process listings.
func bootstrap(ctx context.Context, args []string, lookupEnv libconfig.LookupEnv, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("bootstrap", flag.ContinueOnError)
	fs.SetOutput(stdout)
	email := fs.String("email", "", "email address of the first superadmin (required)")
	name := fs.String("name", "", "display name [the email's local part]")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *email == "" {
		return errors.New("bootstrap: --email is required")
	}
	if *name == "" {
		*name, _, _ = strings.Cut(*email, "@")
	}
	cfg, err := config.Load(lookupEnv)
	if err != nil {
		return err
	}
	log := logging.New(stdout, "admin", cfg.LogLevel)

	pw, err := readPassword(stdin, stdout)
	if err != nil {
		return err
	}
	pool, err := openDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	hasher, err := newHasher(cfg, log)
	if err != nil {
		return err
	}
	blocklist, err := password.LoadBlocklist()
	if err != nil {
		return err
	}
	svc := account.NewService(store.NewAccounts(pool), hasher, nil, nil, accountConfig(cfg, blocklist), time.Now)
	a, enrolment, err := svc.Bootstrap(ctx, account.NewAccount{Email: *email, Name: *name, Password: pw})
	if err != nil {
		var invalid *account.ValidationError
		if errors.As(err, &invalid) {
			return fmt.Errorf("bootstrap: %v", invalid.Fields)
		}
		return fmt.Errorf("bootstrap: %w", err)
	}
	log.Info("first superadmin created, TOTP enrolled", "admin_id", a.ID.String(), "email", a.Email)
	printEnrolment(stdout, a, enrolment)
	return nil
}

// printEnrolment shows the operator, once, what the first login needs
// besides the password: the TOTP key for an authenticator app and the
// recovery codes. Nothing of it is logged.
func printEnrolment(w io.Writer, a account.Account, e account.Enrolment) {
	fmt.Fprintf(w, "superadmin %s created (id %s)\n", a.Email, a.ID)
	fmt.Fprintf(w, "Superadmins log in with a TOTP code too. Add this key to an authenticator app now\n")
	fmt.Fprintf(w, "(scan the URI as a QR code, e.g. qrencode -t ansiutf8 'URI', or type the secret):\n")
	fmt.Fprintf(w, "  otpauth URI: %s\n", e.URI)
	fmt.Fprintf(w, "  secret:      %s\n", e.Secret)
	fmt.Fprintf(w, "Recovery codes: each logs in once instead of a code. Keep them offline; they are not shown again.\n")
	for _, c := range e.RecoveryCodes {
		fmt.Fprintf(w, "  recovery code: %s\n", c)
	}
}

// readPassword reads one line; on a terminal it prompts and turns echo off.
func readPassword(stdin io.Reader, stdout io.Writer) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(stdout, "Password: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stdout)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		return string(b), nil
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, account.MaxPasswordBytes+2)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("bootstrap: no password on standard input")
	}
	return line, nil
}
