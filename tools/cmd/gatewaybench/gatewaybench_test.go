package main

import (
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseCommandStats(t *testing.T) {
	tests := []struct {
		name string
		info string
		want map[string]int64
	}{
		{name: "empty", info: "# Commandstats\r\n", want: map[string]int64{}},
		{name: "several", info: "# Commandstats\r\ncmdstat_evalsha:calls=15,usec=120,usec_per_call=8.00,rejected_calls=0,failed_calls=0\r\n" +
			"cmdstat_get:calls=580,usec=300,usec_per_call=0.52\r\ncmdstat_info:calls=2,usec=90,usec_per_call=45.00\r\n",
			want: map[string]int64{"evalsha": 15, "get": 580, "info": 2}},
		{name: "other sections ignored", info: "# Stats\r\ntotal_commands_processed:42\r\n", want: map[string]int64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseCommandStats(tt.info); !maps.Equal(got, tt.want) {
				t.Errorf("parseCommandStats = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRoundOrderIsABBA(t *testing.T) {
	cs := []*config{{key: "a"}, {key: "b"}, {key: "c"}}
	keys := func(order []*config) string {
		s := ""
		for _, c := range order {
			s += c.key
		}
		return s
	}
	tests := []struct {
		round int
		want  string
	}{
		{round: 0, want: "abc"},
		{round: 1, want: "cba"},
		{round: 2, want: "bca"},
		{round: 3, want: "acb"},
		{round: 4, want: "cab"},
		{round: 5, want: "bac"},
		{round: 6, want: "abc"},
	}
	for _, tt := range tests {
		if got := keys(roundOrder(cs, tt.round)); got != tt.want {
			t.Errorf("round %d: order %s, want %s", tt.round, got, tt.want)
		}
	}
}

func TestComparedNeighboursKeepsPairsAdjacent(t *testing.T) {
	tests := []struct {
		name string
		keys []string
		near [][2]string // side by side
		next [][2]string // at most one between
	}{
		{name: "every configuration", keys: []string{"a", "b", "c", "d", "e", "b′", "c′"},
			near: [][2]string{{"b", "d"}, {"d", "c"}, {"c", "e"}}, next: [][2]string{{"c", "c′"}}},
		{name: "without nginx with fields", keys: []string{"a", "b", "c", "d", "b′", "c′"},
			near: [][2]string{{"b", "d"}, {"d", "c"}, {"c", "c′"}}},
		{name: "without the net/http path", keys: []string{"a", "b", "c", "d", "e"},
			near: [][2]string{{"b", "d"}, {"d", "c"}, {"c", "e"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cs []*config
			for _, k := range tt.keys {
				cs = append(cs, &config{key: k})
			}
			ring := comparedNeighbours(cs)
			if len(ring) != len(cs) {
				t.Fatalf("ring has %d configs, want %d", len(ring), len(cs))
			}
			at := map[string]int{}
			for i, c := range ring {
				at[c.key] = i
			}
			for _, pair := range tt.near {
				if d := at[pair[0]] - at[pair[1]]; d != 1 && d != -1 {
					t.Errorf("%s and %s are %d apart in %v", pair[0], pair[1], d, at)
				}
			}
			for _, pair := range tt.next {
				if d := at[pair[0]] - at[pair[1]]; d < -2 || d > 2 {
					t.Errorf("%s and %s are %d apart in %v", pair[0], pair[1], d, at)
				}
			}
		})
	}
}

func TestFloodCommandsText(t *testing.T) {
	r := floodResult{byCommand: map[string]int64{"get": 3, "evalsha": 12, "time": 3}}
	if got, want := r.commandsText(), "evalsha 12, get 3, time 3"; got != want {
		t.Errorf("commandsText = %q, want %q", got, want)
	}
	if got := (floodResult{}).commandsText(); got != "none" {
		t.Errorf("no commands: %q", got)
	}
}

// TestNginxConf: both servers proxy /api/ the same way, (e) also sets the
// gateway's fields, and nginx, where installed, accepts the file.
func TestNginxConf(t *testing.T) {
	dir := t.TempDir()
	if err := writeNginxConf(dir, "127.0.0.1:18081", "127.0.0.1:18082", "127.0.0.1:18080"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "nginx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	conf := string(b)
	d, e, ok := strings.Cut(conf, "listen 127.0.0.1:18082")
	if !ok || !strings.Contains(d, "listen 127.0.0.1:18081") {
		t.Fatalf("no server for (d) then (e):\n%s", conf)
	}
	for _, line := range []string{"limit_req zone=public", "proxy_pass http://booking;", `proxy_set_header Connection "";`} {
		if !strings.Contains(d, line) || !strings.Contains(e, line) {
			t.Errorf("%q is not in both servers", line)
		}
	}
	for _, line := range []string{"proxy_set_header X-Forwarded-For", "add_header X-Request-Id $request_id always;"} {
		if strings.Contains(d, line) || !strings.Contains(e, line) {
			t.Errorf("%q is not in (e) alone", line)
		}
	}
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		t.Skip("nginx is not installed: the file's syntax is not checked")
	}
	if out, err := exec.Command(nginx, "-t", "-p", dir, "-c", filepath.Join(dir, "nginx.conf")).CombinedOutput(); err != nil {
		t.Errorf("nginx -t: %v\n%s", err, out)
	}
}
