package stream_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/acube/platform/libs/stream"
)

// matches reports whether a NATS subject pattern (with * and >) matches
// subject.
func matches(pattern, subject string) bool {
	p, s := strings.Split(pattern, "."), strings.Split(subject, ".")
	for i, tok := range p {
		switch {
		case tok == ">":
			return len(s) > i
		case i >= len(s):
			return false
		case tok != "*" && tok != s[i]:
			return false
		}
	}
	return len(p) == len(s)
}

// allows reports whether r lets subject through: an allow matches and no
// deny does.
func allows(r stream.SubjectRule, subject string) bool {
	ok := false
	for _, a := range r.Allow {
		ok = ok || matches(a, subject)
	}
	for _, d := range r.Deny {
		if matches(d, subject) {
			return false
		}
	}
	return ok
}

// TestPermissionsAreNarrow holds the permission table to what the issue
// asks: who may publish what no one else may, and what no service may do.
// It needs no server; the integration tests show the server agrees.
func TestPermissionsAreNarrow(t *testing.T) {
	all := stream.Identities()
	perms := map[string]stream.Permissions{}
	owners := map[string]string{} // durable → service
	for _, a := range all {
		perms[a.Service] = a.Permissions(all)
		for _, d := range a.Durables {
			if prev, ok := owners[d.Name]; ok {
				t.Errorf("durable %s belongs to %s and %s", d.Name, prev, a.Service)
			}
			owners[d.Name] = a.Service
		}
	}
	type rule struct {
		subject string
		only    []string // the services that may publish it; ops always may
	}
	rules := []rule{
		{subject: "admin.job.requested", only: []string{"admin"}},
		{subject: "admin.account.created", only: []string{"admin"}},
		{subject: "booking.session.booked", only: []string{"booking", "admin"}}, // admin replays dead letters
		{subject: "audit.admin_account.create", only: []string{"booking", "admin", "exporter"}},
		{subject: "exporter.export.completed", only: []string{"exporter"}},
		{subject: "deadletter.mailer-booking", only: []string{"mailer"}},
		{subject: "$O.EXPORTS.C.abc", only: []string{"exporter"}},
		{subject: "$O.IMAGES.M.abc", only: []string{"booking"}},
		{subject: "$JS.API.STREAM.UPDATE.AUDIT", only: []string{"admin"}},
		{subject: "$JS.API.STREAM.UPDATE.BOOKING", only: []string{"booking"}},
		{subject: "$JS.API.STREAM.CREATE.AUDIT", only: []string{"admin", "booking", "exporter"}},
		{subject: "$JS.API.STREAM.MSG.GET.DEADLETTER", only: []string{"admin"}},
		{subject: "$JS.API.CONSUMER.CREATE.AUDIT.any_1.audit.>", only: []string{"exporter"}},
		{subject: "$JS.API.CONSUMER.CREATE.ADMIN.booking-jobs.admin.job.requested", only: []string{"booking"}},
	}
	for _, s := range stream.Catalog(1) {
		for _, verb := range []string{"DELETE", "PURGE"} {
			rules = append(rules, rule{subject: "$JS.API.STREAM." + verb + "." + s.Name})
		}
		rules = append(rules,
			rule{subject: "$JS.API.STREAM.MSG.DELETE." + s.Name, only: map[bool][]string{true: {"admin"}}[s.Name == "DEADLETTER"]},
			rule{subject: "$JS.API.DIRECT.GET." + s.Name})
	}
	for durable, owner := range owners {
		for _, a := range all {
			for _, d := range a.Durables {
				if d.Name != durable {
					continue
				}
				for _, subject := range []string{
					"$JS.API.CONSUMER.CREATE." + d.Stream + "." + d.Name + "." + d.Filter,
					"$JS.API.CONSUMER.CREATE." + d.Stream + "." + d.Name + ".other.>",
					"$JS.API.CONSUMER.MSG.NEXT." + d.Stream + "." + d.Name,
					"$JS.API.CONSUMER.DELETE." + d.Stream + "." + d.Name,
					"$JS.ACK." + d.Stream + "." + d.Name + ".1.2.3.4.0",
				} {
					only := []string{owner}
					switch {
					case strings.Contains(subject, ".other."):
						only = nil // not even its owner: another filter
					case strings.Contains(subject, ".DELETE.") && !slices.ContainsFunc(a.Reads, func(r stream.Read) bool { return r.Stream == d.Stream }):
						only = nil // only a service that replays the stream deletes consumers on it
					}
					if d.Filter == "" && strings.Contains(subject, "CONSUMER.CREATE") {
						continue // several filters: the create names none
					}
					rules = append(rules, rule{subject: strings.TrimSuffix(subject, "."), only: only})
				}
			}
		}
	}
	for _, r := range rules {
		for svc, p := range perms {
			want := svc == stream.Ops
			for _, o := range r.only {
				want = want || o == svc
			}
			if got := allows(p.Publish, r.subject); got != want {
				t.Errorf("%s may publish %s: %v, want %v", svc, r.subject, got, want)
			}
		}
	}
	for svc, p := range perms {
		if svc == stream.Ops {
			continue
		}
		want := []string{stream.InboxPrefix(svc) + ".>"}
		if len(p.Subscribe.Allow) != 1 || p.Subscribe.Allow[0] != want[0] || len(p.Subscribe.Deny) != 0 {
			t.Errorf("%s subscribes to %v, want its inbox %v only", svc, p.Subscribe, want)
		}
	}
}

// TestServerConfig renders the accounts block for the prodlike cluster
// and tests: the server parses it, reading $VARIABLE keys from its
// environment; unknown identities and malformed keys are refused.
func TestServerConfig(t *testing.T) {
	k, err := stream.NewNKey()
	if err != nil {
		t.Fatal(err)
	}
	other, err := stream.NewNKey()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("BOOKING_NKEY", k.Public)
	conf, err := stream.ServerConfig(map[string]string{"booking": "$" + stream.NKeyVar("booking"), "admin": other.Public})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(conf, `"nkey": $BOOKING_NKEY`) {
		t.Errorf("the variable is quoted, so the server would not read it:\n%s", conf)
	}
	var opts server.Options
	if err := opts.ProcessConfigString(conf); err != nil {
		t.Fatalf("the server refuses the configuration: %v\n%s", err, conf)
	}
	if len(opts.Nkeys) != 2 || opts.Nkeys[0].Nkey != k.Public || opts.Nkeys[0].Account.Name != stream.AccountName {
		t.Errorf("users %+v", opts.Nkeys)
	}
	for name, keys := range map[string]map[string]string{
		"unknown identity": {"gateway": k.Public},
		"seed, not key":    {"booking": string(k.Seed)},
	} {
		if _, err := stream.ServerConfig(keys); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
