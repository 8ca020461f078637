package server

import (
	"fmt"
	"net"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cdnd/cdnd/internal/netlimit"
)

// listeners are a node's bound sockets, one per role it plays (nil for a
// listener the role does not use). They are bound before anything is
// created, so a node that cannot take its ports leaves nothing behind.
type listeners struct {
	api, https, http, admin net.Listener
}

// Each listener is limited to cfg.MaxConns open connections (by default a
// share of the file limit that leaves headroom for the store), so that
// exhausting one listener refuses its new connections instead of taking
// the descriptors every other listener and embedded etcd need.
func bindListeners(cfg Config, reg prometheus.Registerer) (*listeners, error) {
	l := &listeners{}
	type plan struct {
		name, addr string
		ln         *net.Listener
	}
	var plans []plan
	proxying := 0
	for _, p := range []plan{
		{"api", roleAddr(cfg.Role != RoleEdge, cfg.APIAddr), &l.api},
		{"https", roleAddr(cfg.Role != RoleAPI, cfg.HTTPSAddr), &l.https},
		{"http", roleAddr(cfg.Role != RoleAPI, cfg.HTTPAddr), &l.http},
		{"admin", cfg.AdminAddr, &l.admin},
	} {
		if p.addr == "" {
			continue
		}
		plans = append(plans, p)
		if p.name == "https" || p.name == "http" {
			proxying++ // each visitor's connection may hold an origin's too
		}
	}
	maxConns := cfg.MaxConns
	if maxConns <= 0 {
		limit, err := netlimit.FileLimit()
		if err != nil {
			return nil, fmt.Errorf("file limit: %w", err)
		}
		maxConns = netlimit.DefaultMaxConns(limit, len(plans), proxying)
	}
	m := newListenerMetrics(reg)
	for _, p := range plans {
		ln, err := net.Listen("tcp", p.addr)
		if err != nil {
			l.close()
			return nil, fmt.Errorf("listen %s on %s: %w", p.name, p.addr, err)
		}
		m.max.WithLabelValues(p.name).Set(float64(maxConns))
		*p.ln = netlimit.Limit(ln, maxConns, m.open.WithLabelValues(p.name), m.refused.WithLabelValues(p.name))
	}
	return l, nil
}

// all lists the bound listeners.
func (l *listeners) all() []net.Listener {
	var out []net.Listener
	for _, ln := range []net.Listener{l.api, l.https, l.http, l.admin} {
		if ln != nil {
			out = append(out, ln)
		}
	}
	return out
}

// close closes every listener not yet handed to a server.
func (l *listeners) close() {
	for _, ln := range l.all() {
		_ = ln.Close()
	}
}

func addrOf(ln net.Listener) net.Addr {
	if ln == nil {
		return nil
	}
	return ln.Addr()
}

// listenerMetrics describe each listener's connections, labelled by the
// listener's name only.
type listenerMetrics struct {
	open, max *prometheus.GaugeVec
	refused   *prometheus.CounterVec
}

func newListenerMetrics(reg prometheus.Registerer) listenerMetrics {
	m := listenerMetrics{
		open: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "cdnd_listener_open_connections",
			Help: "Connections open on the listener.",
		}, []string{"listener"}),
		max: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "cdnd_listener_max_connections",
			Help: "The listener's connection limit (--max-conns).",
		}, []string{"listener"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cdnd_listener_refused_connections_total",
			Help: "Connections reset as soon as accepted because the listener was at its limit.",
		}, []string{"listener"}),
	}
	reg.MustRegister(m.open, m.max, m.refused)
	return m
}
