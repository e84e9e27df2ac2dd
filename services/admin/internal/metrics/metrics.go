// Package metrics holds the admin service's own Prometheus metrics and
// implements the domain's Recorder interfaces with them.
package metrics

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the admin-specific counters and histograms.
type Metrics struct {
	logins     *prometheus.CounterVec
	refreshes  *prometheus.CounterVec
	jobs       *prometheus.CounterVec
	jobsDone   *prometheus.CounterVec
	jobTime    *prometheus.HistogramVec
	jobRows    *prometheus.CounterVec
	deadLetter *prometheus.CounterVec
}

// New registers the metrics with reg.
func New(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "admin_login_attempts_total", Help: "Login attempts by outcome (success, invalid, throttled, mfa_required: the password was right, a second step follows).",
		}, []string{"outcome"}),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "admin_token_refreshes_total", Help: "Refresh-token uses by outcome (success, invalid, reused: the family was revoked, replayed: refused within the grace period).",
		}, []string{"outcome"}),
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "admin_jobs_submitted_total", Help: "Bulk jobs submitted by entity, action and mode (sync, async).",
		}, []string{"entity", "action", "mode"}),
		jobsDone: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "admin_jobs_finished_total", Help: "Bulk jobs finished by entity, action and state.",
		}, []string{"entity", "action", "state"}),
		jobTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "admin_job_duration_seconds", Help: "Time from a bulk job's request to its end.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 14),
		}, []string{"entity", "action"}),
		jobRows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "admin_job_rows_total", Help: "Ids processed by finished bulk jobs.",
		}, []string{"entity", "action"}),
		deadLetter: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "admin_dead_letter_actions_total", Help: "Dead letters replayed or discarded by an admin.",
		}, []string{"action"}),
	}
	for _, c := range []prometheus.Collector{m.logins, m.refreshes, m.jobs, m.jobsDone, m.jobTime, m.jobRows, m.deadLetter} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register admin metrics: %w", err)
		}
	}
	return m, nil
}

// Login counts a login attempt.
func (m *Metrics) Login(outcome string) { m.logins.WithLabelValues(outcome).Inc() }

// Refresh counts a refresh-token use.
func (m *Metrics) Refresh(outcome string) { m.refreshes.WithLabelValues(outcome).Inc() }

// Submitted counts a bulk job request.
func (m *Metrics) Submitted(entity, action, mode string) {
	m.jobs.WithLabelValues(entity, action, mode).Inc()
}

// Finished records a bulk job's end.
func (m *Metrics) Finished(entity, action, state string, took time.Duration, rows int) {
	m.jobsDone.WithLabelValues(entity, action, state).Inc()
	m.jobTime.WithLabelValues(entity, action).Observe(took.Seconds())
	m.jobRows.WithLabelValues(entity, action).Add(float64(rows))
}

// DeadLetter counts a replay or discard.
func (m *Metrics) DeadLetter(action string) { m.deadLetter.WithLabelValues(action).Inc() }
