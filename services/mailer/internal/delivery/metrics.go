package delivery

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/acube/platform/services/mailer/internal/email"
	"github.com/acube/platform/services/mailer/internal/sender"
)

// KindInvalid labels failures of events that cannot make an email (bad
// data, unknown type), next to sender.KindPermanent and KindTransient.
const KindInvalid = "invalid"

// ReasonRecipientLimit labels emails suppressed because their recipient
// had all the acknowledgements the window allows (store.ClaimAck).
const ReasonRecipientLimit = "recipient_limit"

// Metrics count what the mailer sends.
type Metrics struct {
	sent       *prometheus.CounterVec
	failures   *prometheus.CounterVec
	suppressed *prometheus.CounterVec
	duration   prometheus.Histogram
}

// NewMetrics registers the email metrics with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "emails_sent_total",
			Help: "Emails the SMTP server accepted (or the mock sender logged), by template.",
		}, []string{"template"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "email_failures_total",
			Help: "Failed send attempts by template and kind: permanent (5xx, dead-lettered), transient (4xx, network; retried) or invalid (the event cannot make an email).",
		}, []string{"template", "kind"}),
		suppressed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "emails_suppressed_total",
			Help: "Emails not sent on purpose, by type (template) and reason: recipient_limit (the address had all the acknowledgements MAILER_ACK_LIMIT allows).",
		}, []string{"type", "reason"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "email_send_duration_seconds",
			Help:    "Time to hand one email to the SMTP server, waiting for a pooled connection included.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
	}
	for _, c := range []prometheus.Collector{m.sent, m.failures, m.suppressed, m.duration} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register email metrics: %w", err)
		}
	}
	// Every series exists from the start at 0, so increase() and alerts
	// see the first failure, and dashboards show the templates at once.
	for _, tmpl := range email.SampleNames() {
		m.sent.WithLabelValues(tmpl)
		for _, kind := range []string{sender.KindPermanent, sender.KindTransient, KindInvalid} {
			m.failures.WithLabelValues(tmpl, kind)
		}
	}
	for _, tmpl := range acknowledgementTemplates() {
		m.suppressed.WithLabelValues(tmpl, ReasonRecipientLimit)
	}
	return m, nil
}
