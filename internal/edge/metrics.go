package edge

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are always created, registered only when a Registerer is given,
// so the hot paths increment unconditionally instead of checking for nil.
type metrics struct {
	domains     prometheus.Gauge
	applied     prometheus.Gauge
	handshakeOK prometheus.Counter
	handshakeNo prometheus.Counter
	cacheHit    prometheus.Counter
	cacheMiss   prometheus.Counter
	cacheError  prometheus.Counter

	snapshotDurable prometheus.Gauge
	snapshotWrite   *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	domains := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "cdnd_edge_domains",
		Help: "Domain records in the edge's index.",
	})
	applied := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "cdnd_edge_applied_revision",
		Help: "Last store revision the edge has applied.",
	})
	handshakes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cdnd_edge_handshakes_total",
		Help: "Certificate selections by result: ok (a domain's certificate) or unknown (no usable certificate for the name).",
	}, []string{"result"})
	cache := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cdnd_edge_cert_cache_total",
		Help: "Parsed-certificate cache lookups by result: hit, miss (parsed now) or error (unusable certificate).",
	}, []string{"result"})
	snapshotDurable := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "cdnd_edge_snapshot_durable_revision",
		Help: "Last store revision the edge's snapshot files hold: what it acknowledges. Below cdnd_edge_applied_revision for long, the snapshot cannot be written.",
	})
	snapshotWrite := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "cdnd_edge_snapshot_write_seconds",
		Help:    "Snapshot writes by kind: base (the whole served set) or journal (an append of pending revisions and its fsync).",
		Buckets: prometheus.ExponentialBuckets(0.001, 4, 8),
	}, []string{"kind"})
	if reg != nil {
		domains = register(reg, domains)
		applied = register(reg, applied)
		handshakes = register(reg, handshakes)
		cache = register(reg, cache)
		snapshotDurable = register(reg, snapshotDurable)
		snapshotWrite = register(reg, snapshotWrite)
	}
	return &metrics{
		domains:     domains,
		applied:     applied,
		handshakeOK: handshakes.WithLabelValues("ok"),
		handshakeNo: handshakes.WithLabelValues("unknown"),
		cacheHit:    cache.WithLabelValues("hit"),
		cacheMiss:   cache.WithLabelValues("miss"),
		cacheError:  cache.WithLabelValues("error"),

		snapshotDurable: snapshotDurable,
		snapshotWrite:   snapshotWrite,
	}
}

// register registers c, or returns the collector already registered under
// the same name, so that two edges in one process (a restart in tests, or a
// reload) share their metrics instead of panicking.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		// A clash with a different kind of collector is a programming
		// error elsewhere; keep this edge working with unregistered metrics.
	}
	return c
}
