package limitreply

import (
	"testing"
	"time"
)

func TestCeilSeconds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		d    time.Duration
		want int64
	}{
		{name: "negative", d: -time.Second, want: 0},
		{name: "zero", d: 0, want: 0},
		{name: "a nanosecond", d: time.Nanosecond, want: 1},
		{name: "whole", d: 2 * time.Second, want: 2},
		{name: "fraction", d: 2500 * time.Millisecond, want: 3},
	}
	for _, tt := range tests {
		if got := CeilSeconds(tt.d); got != tt.want {
			t.Errorf("%s: CeilSeconds(%v) = %d, want %d", tt.name, tt.d, got, tt.want)
		}
	}
}
