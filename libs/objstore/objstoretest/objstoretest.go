// Package objstoretest gives a test an Object Store bucket on a real
// JetStream server of its own (natstest), declared as its owner declares
// it, and more connections to the same bucket: the views of other
// replicas.
package objstoretest

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/acube/platform/libs/natstest"
	"github.com/acube/platform/libs/objstore"
	"github.com/acube/platform/libs/stream"
)

// Start runs a server of the test's own, declares spec on it and returns
// a Bucket over it (one replica's) and the server.
func Start(t testing.TB, spec stream.BucketSpec) (*objstore.Bucket, *natstest.Server) {
	t.Helper()
	srv := natstest.Start(t)
	return Declare(t, srv.URL(), spec), srv
}

// Declare declares spec on the server at url and returns a Bucket over it.
func Declare(t testing.TB, url string, spec stream.BucketSpec) *objstore.Bucket {
	t.Helper()
	nc, js, err := stream.Connect(url, t.Name(), slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("objstoretest: %v", err)
	}
	t.Cleanup(nc.Close)
	if err := stream.EnsureBucket(context.Background(), js, spec); err != nil {
		t.Fatalf("objstoretest: %v", err)
	}
	b, err := objstore.New(js, objstore.Config{Bucket: spec.Name})
	if err != nil {
		t.Fatalf("objstoretest: %v", err)
	}
	return b
}

// Replica returns a Bucket over bucket on the server at url through a
// connection of its own, as another replica of the service has.
func Replica(t testing.TB, url, bucket string) *objstore.Bucket {
	t.Helper()
	nc, js, err := stream.Connect(url, t.Name(), slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("objstoretest: %v", err)
	}
	t.Cleanup(nc.Close)
	b, err := objstore.New(js, objstore.Config{Bucket: bucket})
	if err != nil {
		t.Fatalf("objstoretest: %v", err)
	}
	return b
}
