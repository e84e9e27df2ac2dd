package ratelimit

import (
	"testing"
	"time"
)

func TestParseWindows(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    []Window
		wantErr bool
	}{
		{name: "seed public", in: "10/minute,30/hour", want: []Window{{Rate: 10, Period: time.Minute, Burst: 10}, {Rate: 30, Period: time.Hour, Burst: 30}}},
		{name: "per wording", in: "5 per 1 minute", want: []Window{{Rate: 5, Period: time.Minute, Burst: 5}}},
		{name: "plural units", in: "100 per 2 hours", want: []Window{{Rate: 100, Period: 2 * time.Hour, Burst: 100}}},
		{name: "duration", in: "7/90s", want: []Window{{Rate: 7, Period: 90 * time.Second, Burst: 7}}},
		{name: "day and spaces", in: " 1000 / day ", want: []Window{{Rate: 1000, Period: 24 * time.Hour, Burst: 1000}}},
		{name: "empty", in: "", wantErr: true},
		{name: "zero count", in: "0/minute", wantErr: true},
		{name: "bad unit", in: "10/fortnight", wantErr: true},
		{name: "sub-second", in: "10/500ms", wantErr: true},
		{name: "no separator", in: "10 minute", wantErr: true},
		{name: "over one per nanosecond", in: "2000000000/second", wantErr: true},
		{name: "period overflows", in: "1/36028797018963969 seconds", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseWindows(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseWindows(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("ParseWindows(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			for i := range got {
				if got[i].Rate != tt.want[i].Rate || got[i].Period != tt.want[i].Period || got[i].Burst != tt.want[i].Burst {
					t.Errorf("window %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestTierWording(t *testing.T) {
	t.Parallel()
	windows, err := ParseWindows("10/minute,30/hour")
	if err != nil {
		t.Fatal(err)
	}
	tier, err := newTier("public", windows, FailLocal, false)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, got, want string
	}{
		{name: "minute detail", got: tier.Windows[0].Detail(), want: "10 per 1 minute"},
		{name: "hour detail", got: tier.Windows[1].Detail(), want: "30 per 1 hour"},
		{name: "policy header", got: tier.PolicyHeader(), want: `"public-minute";q=10;w=60, "public-hour";q=30;w=3600`},
		{name: "key suffix", got: tier.keySuffix, want: ":60:3600"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %q, want %q", tt.name, tt.got, tt.want)
		}
	}
	if _, err := newTier("x", append(windows, windows[0]), FailLocal, false); err == nil {
		t.Error("two windows of one period: want an error")
	}
}
