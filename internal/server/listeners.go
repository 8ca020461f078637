package server

import (
	"fmt"
	"net"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cdnd/cdnd/internal/netlimit"
)

// Listener names, in logs and metric labels.
const (
	listenAPI   = "api"
	listenHTTPS = "https"
	listenHTTP  = "http"
	listenAdmin = "admin"
)

// bind listens on every address the role uses, each limited to the same
// number of open connections, and records the bound addresses in s
// (useful when the config asked for port 0). It runs before anything is
// created, so that a port in use fails the start with nothing to undo;
// Shutdown closes what was bound. It returns the listeners by name and
// their connection limit.
func (s *Server) bind(cfg Config, reg prometheus.Registerer) (map[string]net.Listener, int, error) {
	type plan struct {
		name, addr string
		bound      *net.Addr
	}
	var plans []plan
	proxying := 0
	for _, p := range []plan{
		{listenAPI, roleAddr(cfg.Role != RoleEdge, cfg.APIAddr), &s.APIAddr},
		{listenHTTPS, roleAddr(cfg.Role != RoleAPI, cfg.HTTPSAddr), &s.HTTPSAddr},
		{listenHTTP, roleAddr(cfg.Role != RoleAPI, cfg.HTTPAddr), &s.HTTPAddr},
		{listenAdmin, cfg.AdminAddr, &s.AdminAddr},
	} {
		if p.addr == "" {
			continue
		}
		plans = append(plans, p)
		if p.name == listenHTTPS || p.name == listenHTTP {
			proxying++
		}
	}
	maxConns := cfg.MaxConns
	if maxConns <= 0 {
		limit, err := netlimit.FileLimit()
		if err != nil {
			return nil, 0, fmt.Errorf("file limit: %w", err)
		}
		maxConns = netlimit.DefaultMaxConns(limit, len(plans), proxying)
	}

	m := newListenerMetrics(reg)
	lns := map[string]net.Listener{}
	for _, p := range plans {
		ln, err := net.Listen("tcp", p.addr)
		if err != nil {
			return nil, 0, fmt.Errorf("listen %s on %s: %w", p.name, p.addr, err)
		}
		s.listeners = append(s.listeners, ln)
		*p.bound = ln.Addr()
		m.max.WithLabelValues(p.name).Set(float64(maxConns))
		lns[p.name] = netlimit.Limit(ln, maxConns, m.open.WithLabelValues(p.name), m.refused.WithLabelValues(p.name))
	}
	return lns, maxConns, nil
}

// listenerMetrics describe each listener's connections, labelled by the
// listener's name.
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
