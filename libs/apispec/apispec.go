// Package apispec holds the one OpenAPI 3.1 document of the whole public
// and admin API (DESIGN §2). It is the source of truth: the gateway serves
// it, its route table and rate-limit files are generated from it
// (x-owner, x-ratelimit-tier), and every service's tests validate their
// requests and responses against it.
package apispec

import _ "embed"

//go:embed openapi.json
var document []byte

// Document returns a copy of the OpenAPI document.
func Document() []byte { return append([]byte(nil), document...) }
