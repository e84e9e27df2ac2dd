package delivery_test

import (
	"slices"
	"testing"

	"github.com/acube/platform/services/mailer/internal/delivery"
	"github.com/acube/platform/services/mailer/internal/email"
)

func TestConsumersCoverEveryEmailType(t *testing.T) {
	seen := map[string]string{}
	for _, c := range delivery.Consumers() {
		for _, s := range c.Subjects {
			if prev, dup := seen[s]; dup {
				t.Errorf("%s read by %s and %s", s, prev, c.Durable)
			}
			seen[s] = c.Durable
		}
	}
	for _, typ := range email.Types() {
		if _, ok := seen[typ]; !ok {
			t.Errorf("no consumer reads %s", typ)
		}
	}
	if len(seen) != len(email.Types()) {
		t.Errorf("consumers read %d subjects, email types are %d", len(seen), len(email.Types()))
	}
	var streams []string
	for _, c := range delivery.Consumers() {
		streams = append(streams, c.Stream)
	}
	if !slices.Equal(streams, []string{"BOOKING", "ADMIN", "EXPORTER"}) {
		t.Errorf("streams %v", streams)
	}
}
