package stack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"
)

// ScratchDatabase creates an empty database named prefix_<random> on the
// server of serverURL (a superuser's URL) and returns its URL and a
// function that drops it, with its connections: a run that leaves nothing
// behind on a server it shares with `make run` and other runs.
func ScratchDatabase(ctx context.Context, serverURL, prefix string) (string, func() error, error) {
	u, err := url.Parse(serverURL)
	if err != nil {
		return "", nil, fmt.Errorf("parse database url: %w", err)
	}
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return "", nil, fmt.Errorf("connect to create a scratch database: %w", err)
	}
	defer conn.Close(ctx)
	var b [5]byte
	_, _ = rand.Read(b[:])
	name := pgx.Identifier{prefix + "_" + hex.EncodeToString(b[:])}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name.Sanitize()); err != nil {
		return "", nil, fmt.Errorf("create database %s: %w", name[0], err)
	}
	drop := func() error {
		// Its own deadline: it runs on the way out, when the run's
		// context may be over.
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(dctx, serverURL)
		if err != nil {
			return fmt.Errorf("connect to drop database %s: %w", name[0], err)
		}
		defer c.Close(dctx)
		if _, err := c.Exec(dctx, "DROP DATABASE IF EXISTS "+name.Sanitize()+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("drop database %s: %w", name[0], err)
		}
		return nil
	}
	u.Path = "/" + name[0]
	return u.String(), drop, nil
}
