package objstoretest

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/acube/platform/libs/stream"
)

// TestReplicasShareTheBucket: what one replica writes into a bucket
// declared as its owner declares it, another replica (a connection of its
// own) reads back whole, and both list it.
func TestReplicasShareTheBucket(t *testing.T) {
	t.Parallel()
	spec := stream.EventImages(1)
	b, srv := Start(t, spec)
	if b.Name() != spec.Name {
		t.Fatalf("bucket %q, want %q", b.Name(), spec.Name)
	}
	body := bytes.Repeat([]byte("cover image "), 40_000) // several chunks
	n, err := b.Put(t.Context(), "event-1.png", "image/png", bytes.NewReader(body))
	if err != nil || n != int64(len(body)) {
		t.Fatalf("Put = %d, %v; want %d bytes", n, err, len(body))
	}

	other := Replica(t, srv.URL(), spec.Name)
	o, err := other.Open(t.Context(), "event-1.png")
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	got, err := io.ReadAll(o)
	if err != nil || !bytes.Equal(got, body) {
		t.Errorf("the other replica read %d bytes (%v), want the %d written", len(got), err, len(body))
	}
	list, err := other.List(t.Context())
	if err != nil || len(list) != 1 || list[0].Name != "event-1.png" || list[0].ContentType != "image/png" {
		t.Errorf("List = %+v (%v), want the one image", list, err)
	}

	// A second declaration, as by the owner's next replica, keeps it.
	again := Declare(t, srv.URL(), spec)
	if info, err := again.Stat(t.Context(), "event-1.png"); err != nil || info.Size != int64(len(body)) || !strings.HasPrefix(info.ETag(), `"`) {
		t.Errorf("Stat after a second declaration = %+v (%v)", info, err)
	}
}
