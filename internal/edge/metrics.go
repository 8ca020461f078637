package edge

import (
	"errors"
	"strings"

	"github.com/cdnd/cdnd/internal/edge/cache"

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

	// purgeTasks counts the purge and prefetch tasks applied to the HTTP
	// cache, by type (store.Purge.Type: five values).
	purgeTasks *prometheus.CounterVec
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
	purgeTasks := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cdnd_edge_purge_tasks_total",
		Help: "Purge and prefetch tasks applied to the HTTP cache, by type: file, directory, regex, ignoreParams, preload.",
	}, []string{"type"})
	if reg != nil {
		purgeTasks = register(reg, purgeTasks)
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
		purgeTasks:      purgeTasks,
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

// cacheObserver counts how the HTTP cache answers, for the whole edge (no
// per-domain labels: their number is the tenants' to choose).
type cacheObserver struct {
	served    [len(cacheStatuses)]prometheus.Counter
	fromCache prometheus.Counter
	fromOrig  prometheus.Counter
}

var cacheStatuses = [...]cache.Status{cache.Hit, cache.Miss, cache.Expired, cache.Stale, cache.Bypass}

// CacheObserver returns the metrics of an edge's HTTP cache, registered
// with reg (nil: kept but not exported), for cache.Config.Observer.
func CacheObserver(reg prometheus.Registerer) cache.Observer {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cdnd_edge_http_cache_requests_total",
		Help: "Requests by how the HTTP cache answered: hit, miss (fetched and stored), expired (validated or replaced), stale, bypass (not stored).",
	}, []string{"result"})
	bytes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cdnd_edge_http_cache_body_bytes_total",
		Help: "Response body bytes by source: cache (sent to visitors from stored responses) or origin (received from origins).",
	}, []string{"source"})
	if reg != nil {
		requests = register(reg, requests)
		bytes = register(reg, bytes)
	}
	o := &cacheObserver{fromCache: bytes.WithLabelValues("cache"), fromOrig: bytes.WithLabelValues("origin")}
	for i, s := range cacheStatuses {
		o.served[i] = requests.WithLabelValues(strings.ToLower(s.String()))
	}
	return o
}

func (o *cacheObserver) Served(s cache.Status, fromCache int64) {
	o.served[s].Inc()
	o.fromCache.Add(float64(fromCache))
}

func (o *cacheObserver) Fetched(fromOrigin int64) { o.fromOrig.Add(float64(fromOrigin)) }
