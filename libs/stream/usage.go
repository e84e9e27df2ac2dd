package stream

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// usageTimeout bounds one scrape's stream look-ups, so a NATS outage slows
// a scrape by at most this much instead of hanging it.
const usageTimeout = 2 * time.Second

// Usage exposes how full each of a service's streams is, as
// jetstream_stream_bytes and jetstream_stream_max_bytes by stream, read
// from JetStream at each scrape. A full stream refuses new events
// (DiscardNew): the outboxes hold them and the backlog grows, so the
// alert to page on is bytes / max_bytes above 0.8, well before that.
type Usage struct {
	js      jetstream.JetStream
	names   []string
	bytes   *prometheus.Desc
	maximum *prometheus.Desc
	up      *prometheus.Desc
}

// NewUsage builds the collector for the streams of specs; the owner of the
// streams registers it with its registry.
func NewUsage(js jetstream.JetStream, specs ...Spec) *Usage {
	names := make([]string, 0, len(specs))
	for _, s := range specs {
		names = append(names, s.Name)
	}
	return &Usage{
		js:    js,
		names: names,
		bytes: prometheus.NewDesc("jetstream_stream_bytes",
			"Bytes the stream holds now.", []string{"stream"}, nil),
		maximum: prometheus.NewDesc("jetstream_stream_max_bytes",
			"Bytes at which the stream refuses new messages (its max_bytes).", []string{"stream"}, nil),
		up: prometheus.NewDesc("jetstream_stream_info_up",
			"1 when the stream's state could be read at this scrape, else 0 (NATS down, stream missing).", []string{"stream"}, nil),
	}
}

// Describe sends the metrics' descriptions.
func (u *Usage) Describe(ch chan<- *prometheus.Desc) {
	ch <- u.bytes
	ch <- u.maximum
	ch <- u.up
}

// Collect reads each stream's state from JetStream.
func (u *Usage) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), usageTimeout)
	defer cancel()
	for _, name := range u.names {
		info, err := u.info(ctx, name)
		if err != nil {
			ch <- prometheus.MustNewConstMetric(u.up, prometheus.GaugeValue, 0, name)
			continue
		}
		ch <- prometheus.MustNewConstMetric(u.up, prometheus.GaugeValue, 1, name)
		ch <- prometheus.MustNewConstMetric(u.bytes, prometheus.GaugeValue, float64(info.State.Bytes), name)
		ch <- prometheus.MustNewConstMetric(u.maximum, prometheus.GaugeValue, float64(info.Config.MaxBytes), name)
	}
}

func (u *Usage) info(ctx context.Context, name string) (*jetstream.StreamInfo, error) {
	s, err := u.js.Stream(ctx, name)
	if err != nil {
		return nil, err
	}
	return s.CachedInfo(), nil
}
