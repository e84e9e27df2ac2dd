package stream_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/acube/platform/libs/natstest"
	"github.com/acube/platform/libs/stream"
	"github.com/acube/platform/libs/testkit"
)

// TestIntegrationDeclarerWaitsForNATS: a declarer started while NATS is
// down neither fails nor blocks its caller; it reports the outage (detail
// and gauge) and declares the streams once NATS is back.
func TestIntegrationDeclarerWaitsForNATS(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	ns.Shutdown()
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	nc, js, err := stream.Connect(ns.URL(), "declarer-test", log)
	if err != nil {
		t.Fatalf("connect while NATS is down: %v", err)
	}
	t.Cleanup(nc.Close)
	reg := prometheus.NewRegistry()
	spec := stream.Spec{Name: "DECLARETEST", Subjects: []string{"declaretest.>"}, MaxAge: time.Hour, MaxBytes: 1 << 20}
	d, err := stream.NewDeclarer(nc, js, reg, log, stream.DeclarerConfig{Specs: []stream.Spec{spec}, MaxBackoff: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()

	if err := d.Connected(ctx); err == nil {
		t.Error("Connected reports a connection while NATS is down")
	}
	if err := d.Streams(ctx); err == nil {
		t.Error("Streams reports the streams declared while NATS is down")
	}
	if got := gaugeValue(t, reg, "nats_connected"); got != 0 {
		t.Errorf("nats_connected = %v while down, want 0", got)
	}

	ns.Restart()
	select {
	case <-d.Declared():
	case err := <-done:
		t.Fatalf("Run returned %v before declaring", err)
	case <-time.After(60 * time.Second):
		t.Fatal("streams not declared within 60s of NATS returning (liveness bound)")
	}
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	if _, err := js.Stream(ctx, "DECLARETEST"); err != nil {
		t.Fatalf("stream after declaration: %v", err)
	}
	if err := d.Streams(ctx); err != nil {
		t.Errorf("Streams = %v after declaration", err)
	}
	testkit.Eventually(t, "nats_connected 1", func() bool { return gaugeValue(t, reg, "nats_connected") == 1 })
	if got := gaugeValue(t, reg, "nats_streams_declared"); got != 1 {
		t.Errorf("nats_streams_declared = %v, want 1", got)
	}
}

// gaugeValue is the value of the one sample of gauge name in reg.
func gaugeValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no single sample of %s", name)
	return 0
}
