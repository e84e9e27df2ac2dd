package templates_test

import (
	"strings"
	"testing"

	"github.com/acube/platform/services/mailer/internal/templates"
)

func TestRender(t *testing.T) {
	set, err := templates.Load()
	if err != nil {
		t.Fatal(err)
	}
	type view struct {
		Name, SiteURL, LoginURL string
	}
	tests := []struct {
		name        string
		template    string
		data        any
		wantSubject string
		wantErr     bool
	}{
		{name: "renders", template: "welcome", data: view{Name: "Ada", SiteURL: "https://x", LoginURL: "https://x/admin"}, wantSubject: "Welcome to A-Cube Admin"},
		{name: "unknown template", template: "nope", data: view{}, wantErr: true},
		{name: "missing field is an error, not <no value>", template: "welcome", data: struct{ Name string }{}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := set.Render(tt.template, tt.data)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Render error = %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if got.Subject != tt.wantSubject {
				t.Errorf("subject %q, want %q", got.Subject, tt.wantSubject)
			}
			if strings.Contains(got.Text, "\n\n\n") || strings.HasPrefix(got.Text, "\n") {
				t.Errorf("text keeps blank runs:\n%q", got.Text)
			}
		})
	}
}
