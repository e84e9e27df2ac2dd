package consume

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are shared by every runner of a service; build them once per
// registry with NewMetrics.
type Metrics struct {
	messages   *prometheus.CounterVec
	redelivers *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	pending    *prometheus.GaugeVec
}

// Outcomes of one delivery, the values of the "outcome" label.
const (
	OutcomeProcessed    = "processed"
	OutcomeDuplicate    = "duplicate"
	OutcomeRetried      = "retried"
	OutcomeDeadLettered = "dead_lettered"
)

// NewMetrics registers the consumer metrics with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "consumer_messages_total",
			Help: "Deliveries handled, by consumer and outcome (processed, duplicate, retried, dead_lettered).",
		}, []string{"consumer", "outcome"}),
		redelivers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "consumer_redeliveries_total",
			Help: "Deliveries that were not the message's first.",
		}, []string{"consumer"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "consumer_handle_duration_seconds",
			Help:    "Time to handle one delivery, transaction included.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"consumer"}),
		pending: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "consumer_pending_messages",
			Help: "Messages in the stream not yet delivered to the consumer (its lag).",
		}, []string{"consumer"}),
	}
	for _, c := range []prometheus.Collector{m.messages, m.redelivers, m.duration, m.pending} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register consumer metrics: %w", err)
		}
	}
	return m, nil
}
