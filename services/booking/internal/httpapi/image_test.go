package httpapi

import (
	"bytes"
	"image"
	"image/color"
	"image/gif"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/acube/platform/libs/apispec/apitest"
	"github.com/acube/platform/libs/managelink"
	"github.com/acube/platform/libs/objstore/objstoretest"
	"github.com/acube/platform/libs/stream"
	"github.com/acube/platform/libs/web"
	"github.com/acube/platform/services/booking/internal/booking"
	"github.com/acube/platform/services/booking/internal/images"
	"github.com/acube/platform/services/booking/internal/store"
)

// replica is a second booking API over the harness's database and its
// NATS server, with a connection to the IMAGES bucket of its own: another
// pod of the Deployment.
func (h *harness) replica() *httptest.Server {
	h.t.Helper()
	imgs := images.New(objstoretest.Replica(h.t, h.natsURL, stream.EventImages(1).Name))
	signer, err := managelink.NewSigner([]byte(strings.Repeat("k", 32)))
	if err != nil {
		h.t.Fatal(err)
	}
	svc := booking.NewService(store.New(h.pool, store.Config{}), signer, imgs, h.clock.Now, booking.Config{
		PublicBaseURL: testBase, LinkTTL: 7 * 24 * time.Hour, CancelNotice: 24 * time.Hour})
	api := New(svc, h.verifier, imgs, slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Config{Clients: loopbackClients(h.t), MaxImageBytes: 64 << 10})
	r := chi.NewRouter()
	r.Use(web.RequestIDs)
	api.Routes(r)
	srv := httptest.NewServer(apitest.New(h.t).Handler(r))
	h.t.Cleanup(srv.Close)
	return srv
}

func gifBytes(t *testing.T) []byte {
	t.Helper()
	img := image.NewPaletted(image.Rect(0, 0, 3, 3), color.Palette{color.Black, color.White})
	var b bytes.Buffer
	if err := gif.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func send(t *testing.T, method, url string, body []byte, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, raw
}

// TestIntegrationImageServedByAnotherReplica: an image uploaded through
// one replica is served by another (no shared disk: the IMAGES bucket),
// with its length, sniffed type and validators; a replacement uploaded
// through the second is what the first serves next.
func TestIntegrationImageServedByAnotherReplica(t *testing.T) {
	h := newHarness(t)
	other := h.replica()
	e := h.createEvent("Shared picture", 3)
	path := "/api/events/" + e.ID + "/image"
	pic := pngBytes(t)

	res, body := send(t, "PUT", h.srv.URL+path, pic, "Content-Type", "application/octet-stream", "Authorization", "Bearer "+h.admin)
	if res.StatusCode != 200 {
		t.Fatalf("upload through the first replica: %d %s", res.StatusCode, body)
	}
	res, body = send(t, "GET", other.URL+path, nil)
	if res.StatusCode != 200 || !bytes.Equal(body, pic) || res.Header.Get("Content-Type") != "image/png" ||
		res.Header.Get("Content-Length") != strconv.Itoa(len(pic)) || res.Header.Get("X-Content-Type-Options") != "nosniff" ||
		res.Header.Get("Etag") == "" || res.Header.Get("Last-Modified") == "" {
		t.Fatalf("served by the second replica: %d, %d bytes, %v", res.StatusCode, len(body), res.Header)
	}
	if again, _ := send(t, "GET", h.srv.URL+path, nil, "If-None-Match", res.Header.Get("Etag")); again.StatusCode != http.StatusNotModified {
		t.Fatalf("conditional GET with the ETag: %d, want 304", again.StatusCode)
	}

	replacement := gifBytes(t)
	res, body = send(t, "PUT", other.URL+path, replacement, "Content-Type", "image/gif", "Authorization", "Bearer "+h.admin)
	if res.StatusCode != 200 {
		t.Fatalf("replacement through the second replica: %d %s", res.StatusCode, body)
	}
	res, body = send(t, "GET", h.srv.URL+path, nil)
	if res.StatusCode != 200 || !bytes.Equal(body, replacement) || res.Header.Get("Content-Type") != "image/gif" {
		t.Fatalf("first replica after the replacement: %d, %d bytes, %s", res.StatusCode, len(body), res.Header.Get("Content-Type"))
	}
}
