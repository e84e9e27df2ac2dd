package main

import (
	"bytes"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	libconfig "github.com/acube/platform/libs/config"
	"github.com/acube/platform/services/mailer/internal/config"
	"github.com/acube/platform/services/mailer/internal/email"
	"github.com/acube/platform/services/mailer/internal/sender"
)

// preview renders one email (or all) with sample data and writes
// NAME.html, NAME.txt and NAME.eml to a directory, without sending.
func preview(args []string, lookupEnv libconfig.LookupEnv, stdout io.Writer) error {
	fs := flag.NewFlagSet("preview", flag.ContinueOnError)
	fs.SetOutput(stdout)
	out := fs.String("out", filepath.Join(".data", "mail-preview"), "directory the files are written to")
	fs.Usage = func() {
		fmt.Fprintf(stdout, "usage: mailer preview [-out DIR] NAME|all\n\nNAME is one of:\n")
		for _, n := range email.SampleNames() {
			fmt.Fprintln(stdout, "  "+n)
		}
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("preview: name one email, or all")
	}
	names := []string{fs.Arg(0)}
	if fs.Arg(0) == "all" {
		names = email.SampleNames()
	}

	cfg, err := config.Load(previewEnv(lookupEnv))
	if err != nil {
		return err
	}
	composer, from, err := newComposer(cfg)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return fmt.Errorf("preview: create %s: %w", *out, err)
	}
	for _, name := range names {
		ev, err := email.Sample(name)
		if err != nil {
			return fmt.Errorf("preview: %w", err)
		}
		m, err := composer.Compose(ev)
		if err != nil {
			return fmt.Errorf("preview %s: %w", name, err)
		}
		var eml bytes.Buffer
		if err := sender.Format(&eml, m, from, time.Now()); err != nil {
			return fmt.Errorf("preview %s: %w", name, err)
		}
		base := filepath.Join(*out, name)
		for ext, body := range map[string][]byte{".html": []byte(m.HTML), ".txt": []byte(m.Text), ".eml": eml.Bytes()} {
			if err := os.WriteFile(base+ext, body, 0o644); err != nil {
				return fmt.Errorf("preview %s: write %s: %w", name, base+ext, err)
			}
		}
		fmt.Fprintf(stdout, "%-32s subject %q -> %s.{html,txt,eml}\n", name, m.Subject, base)
	}
	return nil
}

// previewEnv is lookupEnv with a throwaway MAILER_LINK_SECRET when none is
// set: the manage links in a preview are never followed, so previewing
// needs no access to the real key.
func previewEnv(lookupEnv libconfig.LookupEnv) libconfig.LookupEnv {
	return func(k string) (string, bool) {
		v, ok := lookupEnv(k)
		if k == "MAILER_LINK_SECRET" && v == "" {
			return rand.Text() + rand.Text(), true
		}
		return v, ok
	}
}
