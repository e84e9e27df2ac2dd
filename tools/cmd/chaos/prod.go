package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/acube/platform/tools/internal/adminflow"
	"github.com/acube/platform/tools/internal/chaos"
	"github.com/acube/platform/tools/internal/prodlike"
)

// runProd is `make chaos-prod`: the production topology under the chaos
// checker, with the gateway's limits lifted above the load (the limiter
// still counts in Redis, through the Sentinels).
func runProd(ctx context.Context, o options, root, bin string, stdout io.Writer) (err error) {
	say := func(format string, args ...any) { fmt.Fprintf(stdout, "chaos | "+format+"\n", args...) }
	if _, err := os.Stat(filepath.Join(bin, "nats-server")); err != nil {
		return fmt.Errorf("nats-server not built (make chaos-prod builds it): %w", err)
	}
	dir, err := os.MkdirTemp("", "acube-chaos-prod-")
	if err != nil {
		return fmt.Errorf("temporary directory: %w", err)
	}
	defer func() {
		if o.keep || err != nil {
			say("kept %s", dir)
			return
		}
		_ = os.RemoveAll(dir)
	}()
	top, err := prodlike.Up(ctx, prodlike.Config{Root: root, Bin: bin, Dir: dir,
		Env: map[string][]string{"gateway": chaos.LiftedLimits()}})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, top.Close()) }()
	say("production topology up; logs of every process: %s", top.LogPath())
	top.Print(stdout)

	super, password := "chaos-super@chaos.test", adminflow.RandomPassword()
	secret, err := top.Bootstrap(ctx, super, password)
	if err != nil {
		return err
	}
	faults := prodlike.Faults(top, o.nodeDown, o.redisDown, o.pgDown, o.killDown)
	if o.only != "" {
		want := strings.Split(o.only, ",")
		faults = slices.DeleteFunc(faults, func(f chaos.Fault) bool { return !slices.Contains(want, f.Name) })
		if len(faults) == 0 {
			return fmt.Errorf("-only %q names no scenario of -prod (%s)", o.only, prodlike.FaultNames())
		}
	}
	client := chaos.NewClient(top.URL("gateway"), map[string]string{
		"booking": top.URL("booking"), "admin": top.URL("admin"), "exporter": top.URL("exporter"),
	})
	client.SetTOTP(super, secret)
	started := time.Now()
	rep, err := chaos.Run(ctx, chaos.Config{
		Rate: o.rate, Requests: o.requests, SuperEmail: super, SuperPassword: password, Progress: stdout,
	}, chaos.Target{Client: client, Mail: top.Mailpit}, faults)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	rep.Print(stdout)
	say("run took %s", time.Since(started).Round(time.Second))
	if rep.Failed() {
		return errors.New("the production topology lost, duplicated or rejected something, refused where it must not, or did not recover (see above)")
	}
	return nil
}
