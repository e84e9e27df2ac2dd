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
	// deadLetterErrors counts failed dead-letter publishes: the message
	// stays in hand and the publish is retried, so a rising count means
	// DEADLETTER is unavailable and messages pile up.
	deadLetterErrors *prometheus.CounterVec
	// unrecorded is, for an Effect, the time from each effect's end to
	// the commit of its record: what a crash can make the runner do again.
	unrecorded *prometheus.HistogramVec
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
		deadLetterErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "consumer_dead_letter_errors_total",
			Help: "Dead-letter publishes that failed; each message is kept and its publish retried until stored.",
		}, []string{"consumer"}),
		unrecorded: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "consumer_effect_unrecorded_seconds",
			Help:    "Time from an effect's end (an email accepted) to the commit of its record: the window in which a crash repeats it.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}, []string{"consumer"}),
	}
	for _, c := range []prometheus.Collector{m.messages, m.redelivers, m.duration, m.pending, m.deadLetterErrors, m.unrecorded} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register consumer metrics: %w", err)
		}
	}
	return m, nil
}
