package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/acube/platform/tools/internal/stack"
)

// scratchDB creates an empty database named prefix_<random> on the server
// of serverURL and returns its URL and a function that drops it.
func scratchDB(ctx context.Context, serverURL, prefix string) (string, func(), error) {
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return "", nil, fmt.Errorf("connect to %s: %w", serverURL, err)
	}
	defer conn.Close(ctx)
	var b [5]byte
	_, _ = rand.Read(b[:])
	name := prefix + "_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", nil, fmt.Errorf("create database %s: %w", name, err)
	}
	drop := func() {
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(dctx, serverURL)
		if err != nil {
			fmt.Fprintf(os.Stderr, "e2ebench: connect to drop %s: %v\n", name, err)
			return
		}
		defer c.Close(dctx)
		if _, err := c.Exec(dctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			fmt.Fprintf(os.Stderr, "e2ebench: drop database %s: %v\n", name, err)
		}
	}
	u, err := url.Parse(serverURL)
	if err != nil {
		drop()
		return "", nil, fmt.Errorf("parse %s: %w", serverURL, err)
	}
	u.Path = "/" + name
	return u.String(), drop, nil
}

// startNATS runs a JetStream server in this process on a free port with
// its store under dir, as the tests and `make run` do.
func startNATS(dir string) (*server.Server, error) {
	port, err := stack.FreePort()
	if err != nil {
		return nil, err
	}
	ns, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true,
	})
	if err != nil {
		return nil, fmt.Errorf("configure in-process nats: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("in-process nats did not start")
	}
	return ns, nil
}
