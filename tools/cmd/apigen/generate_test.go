package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGeneratedFilesAreCurrent regenerates every file in memory from the
// committed document and compares: the route table and the rate-limit
// files can only change through the OpenAPI document.
func TestGeneratedFilesAreCurrent(t *testing.T) {
	t.Parallel()
	root := filepath.Join("..", "..", "..")
	files, err := generateFrom(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		got, err := os.ReadFile(filepath.Join(root, f.Path))
		if err != nil {
			t.Errorf("%v: run make generate", err)
			continue
		}
		if !bytes.Equal(got, f.Data) {
			t.Errorf("%s is not what libs/apispec/openapi.json generates: run make generate (and commit the result)", f.Path)
		}
	}
}

func TestGenerate(t *testing.T) {
	t.Parallel()
	const doc = `{"paths": {
	  "/api/things/{id}": {
	    "parameters": [],
	    "put": {"operationId": "putThing", "x-owner": "booking", "x-ratelimit-tier": "upload", "x-upload": true},
	    "get": {"operationId": "getThing", "x-owner": "booking", "x-ratelimit-tier": "public"}
	  },
	  "/manage/things/{id}": {"get": {"operationId": "manageThing", "x-owner": "admin", "x-ratelimit-tier": "public"}},
	  "/api/openapi.json": {"get": {"operationId": "getOpenAPI", "x-owner": "gateway"}}
	}}`
	files, err := generate([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	// gofmt aligns the comments: compare with runs of spaces folded.
	table, limits := strings.Join(strings.Fields(string(files[0].Data)), " "), string(files[1].Data)
	for _, want := range []string{
		`{Method: "GET", Pattern: "/api/things/{id}", Owner: Booking}, // getThing`,
		`{Method: "PUT", Pattern: "/api/things/{id}", Owner: Booking, Upload: true}, // putThing`,
		`{Method: "GET", Pattern: "/manage/things/{id}", Owner: Admin}, // manageThing`,
		`{Method: "GET", Pattern: "/api/openapi.json", Owner: Gateway}, // getOpenAPI`,
	} {
		if !strings.Contains(table, strings.Join(strings.Fields(want), " ")) {
			t.Errorf("route table lacks %s:\n%s", want, table)
		}
	}
	if strings.Index(table, "getThing") > strings.Index(table, "putThing") {
		t.Error("routes are not in path and method order")
	}
	wantRoutes := "routes:\n" +
		"  GET /api/things/{id}: public # getThing\n" +
		"  PUT /api/things/{id}: upload # putThing\n" +
		"  GET /manage/things/{id}: public # manageThing\n"
	if !strings.HasSuffix(limits, wantRoutes) {
		t.Errorf("rate-limit file ends\n%s\nwant\n%s", limits[strings.Index(limits, "routes:"):], wantRoutes)
	}
	if !bytes.Equal(files[1].Data, files[2].Data) {
		t.Error("the two rate-limit files differ")
	}
}

func TestGenerateErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, op, wantErr string
	}{
		{name: "no owner", op: `{"operationId": "x", "x-ratelimit-tier": "public"}`, wantErr: `x-owner ""`},
		{name: "unknown owner", op: `{"operationId": "x", "x-owner": "mailer", "x-ratelimit-tier": "public"}`, wantErr: `x-owner "mailer"`},
		{name: "no tier", op: `{"operationId": "x", "x-owner": "booking"}`, wantErr: `x-ratelimit-tier ""`},
		{name: "unknown tier", op: `{"operationId": "x", "x-owner": "booking", "x-ratelimit-tier": "vip"}`, wantErr: `x-ratelimit-tier "vip"`},
		{name: "limited gateway operation", op: `{"operationId": "x", "x-owner": "gateway", "x-ratelimit-tier": "public"}`, wantErr: "drop x-ratelimit-tier"},
		{name: "no operationId", op: `{"x-owner": "booking", "x-ratelimit-tier": "public"}`, wantErr: "no operationId"},
		{name: "upload not a bool", op: `{"operationId": "x", "x-owner": "booking", "x-ratelimit-tier": "public", "x-upload": "yes"}`, wantErr: "x-upload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := generate([]byte(`{"paths": {"/api/x": {"post": ` + tt.op + `}}}`))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "POST /api/x") {
				t.Fatalf("error = %v, want one naming POST /api/x and %q", err, tt.wantErr)
			}
		})
	}
}
