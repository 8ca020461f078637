package acme

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cdnd/cdnd/internal/store"
)

// metrics are the manager's on /metrics: counts by state and by time to
// expiry, never by domain (a label per domain would grow without bound
// and name tenants).
type metrics struct {
	orders       *prometheus.CounterVec
	orderSeconds prometheus.Histogram
	m            *Manager

	certs         *prometheus.Desc
	expiring      *prometheus.Desc
	renewalsDue   *prometheus.Desc
	oldestOverdue *prometheus.Desc
}

// expiryBuckets are the "expires within" bounds of cdnd_acme_certificates_expiring.
var expiryBuckets = []struct {
	label string
	d     time.Duration
}{
	{"1d", 24 * time.Hour}, {"7d", 7 * 24 * time.Hour}, {"14d", 14 * 24 * time.Hour},
	{"30d", 30 * 24 * time.Hour}, {"90d", 90 * 24 * time.Hour},
}

var states = []string{
	store.FreeChecking, store.FreeApplying, store.FreeSuccess, store.FreeCnameError, store.FreeDomainInvalid,
	store.FreeUnsupportWildcard, store.FreeGetTokenTimeout, store.FreeCheckTokenTimeout, store.FreeGetCertTimeout, store.FreeFailed,
}

func newMetrics(reg prometheus.Registerer, m *Manager) *metrics {
	x := &metrics{
		m: m,
		orders: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cdnd_acme_orders_total",
			Help: "ACME orders this node ran to an end, by outcome (success or the failure's status).",
		}, []string{"outcome"}),
		orderSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "cdnd_acme_order_duration_seconds",
			Help:    "Time from taking a domain's lock to its certificate issued.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 14),
		}),
		certs: prometheus.NewDesc("cdnd_acme_certificates",
			"Free certificates of the installation by state.", []string{"state"}, nil),
		expiring: prometheus.NewDesc("cdnd_acme_certificates_expiring",
			"Issued free certificates expiring within the bound (cumulative).", []string{"within"}, nil),
		renewalsDue: prometheus.NewDesc("cdnd_acme_renewals_due",
			"Issued free certificates past their renewal time.", nil, nil),
		oldestOverdue: prometheus.NewDesc("cdnd_acme_oldest_overdue_renewal_seconds",
			"How long the most overdue renewal is past its renewal time (0: none).", nil, nil),
	}
	if reg != nil {
		reg.MustRegister(x.orders, x.orderSeconds, x)
	}
	return x
}

func (x *metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- x.certs
	ch <- x.expiring
	ch <- x.renewalsDue
	ch <- x.oldestOverdue
}

// Collect counts the mirror of the records: every node reports the whole
// installation's certificates, the same on each.
func (x *metrics) Collect(ch chan<- prometheus.Metric) {
	now := x.m.now()
	byState := map[string]int{}
	expiring := make([]int, len(expiryBuckets))
	due := 0
	var oldest time.Duration
	x.m.mu.Lock()
	for _, fc := range x.m.certs {
		byState[fc.Status]++
		if fc.NotAfter.IsZero() {
			continue
		}
		for i, b := range expiryBuckets {
			if fc.NotAfter.Sub(now) <= b.d {
				expiring[i]++
			}
		}
		if !fc.RenewAt.IsZero() && now.After(fc.RenewAt) {
			due++
			oldest = max(oldest, now.Sub(fc.RenewAt))
		}
	}
	x.m.mu.Unlock()
	for _, s := range states {
		ch <- prometheus.MustNewConstMetric(x.certs, prometheus.GaugeValue, float64(byState[s]), s)
	}
	for i, b := range expiryBuckets {
		ch <- prometheus.MustNewConstMetric(x.expiring, prometheus.GaugeValue, float64(expiring[i]), b.label)
	}
	ch <- prometheus.MustNewConstMetric(x.renewalsDue, prometheus.GaugeValue, float64(due))
	ch <- prometheus.MustNewConstMetric(x.oldestOverdue, prometheus.GaugeValue, oldest.Seconds())
}
