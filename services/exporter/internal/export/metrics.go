package export

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics count exports by outcome, their durations, rows and bytes.
type Metrics struct {
	runs     *prometheus.CounterVec
	duration prometheus.Histogram
	rows     prometheus.Counter
	bytes    prometheus.Counter
	purged   prometheus.Counter
}

// Outcomes of one run, the values of the "outcome" label.
const (
	OutcomeCompleted   = "completed"
	OutcomeFailed      = "failed"
	OutcomeRetried     = "retried"
	OutcomeInterrupted = "interrupted"
	OutcomeLeaseLost   = "lease_lost"
)

// NewMetrics registers the export metrics with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "exporter_export_runs_total",
			Help: "Export runs by outcome (completed, failed, retried, interrupted, lease_lost).",
		}, []string{"outcome"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "exporter_export_duration_seconds",
			Help:    "Time to write one completed export, from claim to file in place.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 14),
		}),
		rows: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "exporter_export_rows_total", Help: "Rows written to completed exports."}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "exporter_export_bytes_total", Help: "Bytes written to completed exports."}),
		purged: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "exporter_export_files_purged_total", Help: "Expired export files and leftover part files deleted."}),
	}
	for _, c := range []prometheus.Collector{m.runs, m.duration, m.rows, m.bytes, m.purged} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register export metrics: %w", err)
		}
	}
	// Every outcome exists from the start at 0, so increase() sees the
	// first failure.
	for _, o := range []string{OutcomeCompleted, OutcomeFailed, OutcomeRetried, OutcomeInterrupted, OutcomeLeaseLost} {
		m.runs.WithLabelValues(o)
	}
	return m, nil
}
