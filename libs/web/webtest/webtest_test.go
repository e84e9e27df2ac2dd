package webtest

import "testing"

func TestDecode(t *testing.T) {
	tests := []struct {
		name string
		body string
		max  int64
		ok   bool
	}{
		{name: "decodes", body: `{"a":1}`, max: 100, ok: true},
		{name: "malformed is refused", body: `{"a":`, max: 100},
		{name: "unknown field is refused", body: `{"b":1}`, max: 100},
		{name: "too large is refused", body: `{"a":1}`, max: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var dst struct {
				A int `json:"a"`
			}
			if got := Decode(t, tt.body, tt.max, &dst); got != tt.ok {
				t.Errorf("Decode(%q) = %v, want %v", tt.body, got, tt.ok)
			}
		})
	}
}
