package stack

import (
	"net"
	"slices"
	"strings"
	"testing"
)

// TestGatewayProbes: a gateway's probes are found where its environment
// puts them, or it is given a port of its own; other processes are
// probed where they serve.
func TestGatewayProbes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		spec      Spec
		wantProbe string // "free": a fresh loopback port, also in Env
	}{
		{name: "explicit", spec: Spec{Name: "gateway", Addr: "127.0.0.1:1", ProbeAddr: "127.0.0.1:2"}, wantProbe: "127.0.0.1:2"},
		{name: "from the environment, last wins", spec: Spec{Name: "gateway-0", Addr: "127.0.0.1:1",
			Env: []string{"GATEWAY_INTERNAL_ADDR=127.0.0.1:3", "GATEWAY_INTERNAL_ADDR=127.0.0.1:4"}}, wantProbe: "127.0.0.1:4"},
		{name: "gateway without one", spec: Spec{Name: "gateway", Addr: "127.0.0.1:1", Env: []string{"LOG_LEVEL=warn"}}, wantProbe: "free"},
		{name: "a service", spec: Spec{Name: "booking", Addr: "127.0.0.1:5"}, wantProbe: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := tt.spec
			env := slices.Clone(spec.Env)
			if err := gatewayProbes(&spec); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(tt.spec.Env, env) {
				t.Errorf("the caller's Env changed: %v", tt.spec.Env)
			}
			if tt.wantProbe != "free" {
				if spec.ProbeAddr != tt.wantProbe {
					t.Errorf("ProbeAddr %q, want %q", spec.ProbeAddr, tt.wantProbe)
				}
				return
			}
			if !strings.HasPrefix(spec.ProbeAddr, "127.0.0.1:") || spec.ProbeAddr == spec.Addr ||
				!slices.Contains(spec.Env, "GATEWAY_INTERNAL_ADDR="+spec.ProbeAddr) {
				t.Errorf("ProbeAddr %q, Env %v: want a free loopback port passed in the environment", spec.ProbeAddr, spec.Env)
			}
		})
	}
}

// TestLocalAddressesAreLoopback: make run binds every service, and the
// gateway's probes, to 127.0.0.1 (DefaultAddr, DefaultProbeAddr through
// ListenEnv), so nothing on the network reaches a service past the
// gateway's limits.
func TestLocalAddressesAreLoopback(t *testing.T) {
	t.Parallel()
	for _, n := range Services() {
		addr, probe := DefaultAddr(n), DefaultProbeAddr(n)
		for _, a := range []string{addr, probe} {
			host, port, err := net.SplitHostPort(a)
			if err != nil || host != "127.0.0.1" || port == "0" {
				t.Errorf("%s: address %q is not a loopback port", n, a)
			}
		}
		env := ListenEnv(n, addr, probe)
		want := []string{strings.ToUpper(n) + "_ADDR=" + addr}
		if n == "gateway" {
			if probe == addr {
				t.Errorf("gateway probes on its public port %s", addr)
			}
			want = append(want, "GATEWAY_INTERNAL_ADDR="+probe)
		}
		if !slices.Equal(env, want) {
			t.Errorf("%s: ListenEnv = %v, want %v", n, env, want)
		}
	}
}

// TestLinkSecretEnv: booking and the mailer get the same manage-link
// secret, long enough for both, and the same again on the next start.
func TestLinkSecretEnv(t *testing.T) {
	dir := t.TempDir()
	first, err := LinkSecretEnv(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 2 {
		t.Fatalf("env %v, want BOOKING_LINK_SECRET and MAILER_LINK_SECRET", first)
	}
	booking, ok1 := strings.CutPrefix(first[0], "BOOKING_LINK_SECRET=")
	mailer, ok2 := strings.CutPrefix(first[1], "MAILER_LINK_SECRET=")
	if !ok1 || !ok2 || booking != mailer || len(booking) < 32 {
		t.Fatalf("env %v: want one shared secret of at least 32 bytes", first)
	}
	again, err := LinkSecretEnv(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(first, again) {
		t.Fatalf("second start got %v, want %v", again, first)
	}
}
