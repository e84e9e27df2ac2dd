package keyset

import (
	"errors"
	"maps"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

var testID = uuid.MustParse("0192f0c4-7a35-7c4e-9d3a-5b6a1f0e2d11")

func TestParse(t *testing.T) {
	t.Parallel()
	at := time.Date(2030, 1, 2, 3, 4, 5, 123456000, time.UTC)
	good := Cursor{At: at, ID: testID}.Encode()
	tests := []struct {
		name    string
		in      string
		want    Cursor
		wantErr bool
	}{
		{name: "round trip", in: good, want: Cursor{At: at, ID: testID}},
		{name: "nanoseconds are cut to the database's microseconds",
			in:   Cursor{At: at.Add(789 * time.Nanosecond), ID: testID}.Encode(),
			want: Cursor{At: at, ID: testID}},
		{name: "other zones come back in UTC",
			in:   Cursor{At: at.In(time.FixedZone("x", 3600)), ID: testID}.Encode(),
			want: Cursor{At: at, ID: testID}},
		{name: "year 1", in: Cursor{At: minTime, ID: testID}.Encode(), want: Cursor{At: minTime, ID: testID}},
		{name: "last microsecond of 9999", in: Cursor{At: maxTime.Add(-time.Microsecond), ID: testID}.Encode(),
			want: Cursor{At: maxTime.Add(-time.Microsecond), ID: testID}},
		{name: "empty", in: "", wantErr: true},
		{name: "garbage", in: "abc", wantErr: true},
		{name: "one character more", in: good + "A", wantErr: true},
		{name: "one character less", in: good[1:], wantErr: true},
		{name: "right length, not base64url", in: strings.Repeat("!", 32), wantErr: true},
		{name: "padded base64", in: good[:30] + "==", wantErr: true},
		{name: "standard base64 alphabet", in: "+" + good[1:], wantErr: true},
		{name: "the nil id", in: strings.Repeat("A", 32), wantErr: true},
		{name: "year 0", in: Cursor{At: minTime.Add(-time.Microsecond), ID: testID}.Encode(), wantErr: true},
		{name: "year 10000", in: Cursor{At: maxTime, ID: testID}.Encode(), wantErr: true},
		{name: "old text cursor", in: "MjAzMC0wMS0wMlQwMzowNDowNVp8MDE5MmYwYzQtN2EzNS03YzRlLTlkM2EtNWI2YTFmMGUyZDEx", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrBadCursor) {
					t.Fatalf("Parse(%q) = %+v, %v; want ErrBadCursor", tt.in, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Parse(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestQuery(t *testing.T) {
	t.Parallel()
	c := Cursor{At: time.Date(2030, 1, 1, 0, 0, 0, 1000, time.UTC), ID: testID}
	tests := []struct {
		name      string
		query     string
		wantLimit int
		wantAfter *Cursor
		wantBad   map[string]string
	}{
		{name: "defaults", query: "", wantLimit: DefaultLimit},
		{name: "limit and cursor", query: "limit=7&cursor=" + c.Encode(), wantLimit: 7, wantAfter: &c},
		{name: "lowest limit", query: "limit=1", wantLimit: 1},
		{name: "highest limit", query: "limit=200", wantLimit: MaxLimit},
		{name: "empty cursor is the first page", query: "cursor=", wantLimit: DefaultLimit},
		{name: "zero", query: "limit=0", wantLimit: DefaultLimit, wantBad: map[string]string{"limit": LimitProblem}},
		{name: "negative", query: "limit=-5", wantLimit: DefaultLimit, wantBad: map[string]string{"limit": LimitProblem}},
		{name: "too many", query: "limit=201", wantLimit: DefaultLimit, wantBad: map[string]string{"limit": LimitProblem}},
		{name: "not an integer", query: "limit=1.5", wantLimit: DefaultLimit, wantBad: map[string]string{"limit": LimitProblem}},
		{name: "a word", query: "limit=ten", wantLimit: DefaultLimit, wantBad: map[string]string{"limit": LimitProblem}},
		{name: "empty limit", query: "limit=", wantLimit: DefaultLimit, wantBad: map[string]string{"limit": LimitProblem}},
		{name: "bad cursor", query: "cursor=x", wantLimit: DefaultLimit, wantBad: map[string]string{"cursor": CursorProblem}},
		{name: "both bad", query: "limit=x&cursor=x", wantLimit: DefaultLimit,
			wantBad: map[string]string{"limit": LimitProblem, "cursor": CursorProblem}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			limit, after, bad := Query(q)
			if !maps.Equal(bad, tt.wantBad) {
				t.Fatalf("problems = %v, want %v", bad, tt.wantBad)
			}
			if limit != tt.wantLimit {
				t.Errorf("limit = %d, want %d", limit, tt.wantLimit)
			}
			if (after == nil) != (tt.wantAfter == nil) || (after != nil && *after != *tt.wantAfter) {
				t.Errorf("after = %v, want %v", after, tt.wantAfter)
			}
		})
	}
}

// TestLimitProblemNamesMaxLimit keeps the message, a constant, in step
// with the bound it states.
func TestLimitProblemNamesMaxLimit(t *testing.T) {
	t.Parallel()
	if !strings.HasSuffix(LimitProblem, " 1 to "+strconv.Itoa(MaxLimit)) {
		t.Fatalf("LimitProblem %q does not state 1 to %d", LimitProblem, MaxLimit)
	}
}

// FuzzParse: a string either is ErrBadCursor or parses into a cursor
// that encodes back to exactly that string, so a cursor has one
// spelling and Parse accepts nothing Encode did not make.
func FuzzParse(f *testing.F) {
	good := Cursor{At: time.Date(2030, 1, 2, 3, 4, 5, 6000, time.UTC), ID: testID}.Encode()
	for _, s := range []string{good, "", "x", good + "A", good[1:], strings.Repeat("A", 32), strings.Repeat("_", 32)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrBadCursor) {
				t.Fatalf("Parse(%q) = %v, want ErrBadCursor", s, err)
			}
			return
		}
		if again := c.Encode(); again != s {
			t.Fatalf("Parse(%q) = %+v, which encodes as %q", s, c, again)
		}
	})
}

// FuzzRoundTrip: every cursor of a row (a time of the years 1 to 9999
// in microseconds, a non-nil id) survives Parse(Encode(c)) unchanged.
func FuzzRoundTrip(f *testing.F) {
	f.Add(int64(0), testID[:])
	f.Add(minTime.UnixMicro(), testID[:])
	f.Add(maxTime.UnixMicro()-1, uuid.Max[:])
	f.Fuzz(func(t *testing.T, micros int64, id []byte) {
		c := Cursor{At: time.UnixMicro(micros).UTC()}
		copy(c.ID[:], id)
		if c.At.Before(minTime) || !c.At.Before(maxTime) || c.ID == uuid.Nil {
			if _, err := Parse(c.Encode()); !errors.Is(err, ErrBadCursor) {
				t.Fatalf("Parse(Encode(%+v)) = %v, want ErrBadCursor", c, err)
			}
			return
		}
		got, err := Parse(c.Encode())
		if err != nil || got != c {
			t.Fatalf("Parse(Encode(%+v)) = %+v, %v", c, got, err)
		}
	})
}
