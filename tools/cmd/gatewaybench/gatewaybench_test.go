package main

import (
	"maps"
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

func TestRotateVisitsEveryConfigFirst(t *testing.T) {
	cs := []*config{{key: "a"}, {key: "b"}, {key: "c"}}
	firsts := map[string]bool{}
	for round := range 3 {
		order := rotate(cs, round)
		if len(order) != 3 {
			t.Fatalf("round %d: %d configs", round, len(order))
		}
		firsts[order[0].key] = true
	}
	if len(firsts) != 3 {
		t.Errorf("first places over 3 rounds: %v, want every config once", firsts)
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
