package edge

import (
	"fmt"
	"log/slog"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/cdnd/cdnd/internal/store"
)

// metricValue reads one sample from reg: name, and for a vector the value
// of its "result" label.
func metricValue(t *testing.T, reg *prometheus.Registry, name, result string) float64 {
	t.Helper()
	return labeledValue(t, reg, name, "result", result)
}

// labeledValue reads one sample from reg: name, and for a vector the value
// whose label has value.
func labeledValue(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if value != "" && !hasLabel(m, label, value) {
				continue
			}
			switch {
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue()
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue()
			}
		}
	}
	return -1
}

func hasLabel(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}

func TestMetrics(t *testing.T) {
	st := testStoreFor(t)
	c := issue(t, "m.example.com")
	rev := putCertAndDomains(t, st, c, "c", domain("m.example.com", "c"), domain("n.example.com", ""))
	reg := prometheus.NewRegistry()
	en := startEdge(t, st, withConfig(func(cfg *Config) { cfg.Metrics = reg }))
	en.waitApplied(rev)
	for i := 0; i < 3; i++ {
		if _, err := en.handshake("m.example.com", false); err != nil {
			t.Fatal(err)
		}
	}
	wantUnrecognized(t, errOnly(en.handshake("n.example.com", false)), "HTTPS off")

	for _, tc := range []struct {
		name, result string
		want         float64
	}{
		{"cdnd_edge_domains", "", 2},
		{"cdnd_edge_handshakes_total", "ok", 3},
		{"cdnd_edge_handshakes_total", "unknown", 1},
		{"cdnd_edge_cert_cache_total", "miss", 1}, // parsed once ...
		{"cdnd_edge_cert_cache_total", "hit", 2},  // ... then cached
		{"cdnd_edge_cert_cache_total", "error", 0},
	} {
		if got := metricValue(t, reg, tc.name, tc.result); got != tc.want {
			t.Errorf("%s{result=%q} = %v, want %v", tc.name, tc.result, got, tc.want)
		}
	}
	if got := metricValue(t, reg, "cdnd_edge_applied_revision", ""); got < float64(rev) {
		t.Errorf("cdnd_edge_applied_revision = %v, want ≥ %d", got, rev)
	}

	// A second edge on the same registry (a restart in one process) shares
	// the metrics instead of panicking on registration.
	_ = New(Config{Metrics: reg, Logger: en.edge.log})
	if got := metricValue(t, reg, "cdnd_edge_handshakes_total", "ok"); got != 3 {
		t.Errorf("after a second New: handshakes ok = %v", got)
	}
}

// TestParseOnce: concurrent first handshakes for one certificate unseal and
// parse it once; the others wait for that result and hit the cache.
func TestParseOnce(t *testing.T) {
	reg := prometheus.NewRegistry()
	e := New(Config{Keyring: testKR, Metrics: reg, Logger: slog.New(slog.DiscardHandler)})
	c := issue(t, "*.once.test")
	s := &store.Served{Revision: 1, Certs: []store.Cert{c.record(t, acct, "c")}}
	for i := 0; i < 16; i++ {
		s.Domains = append(s.Domains, domain(fmt.Sprintf("d%d.once.test", i), "c"))
	}
	e.load(s)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if e.certificate(fmt.Sprintf("d%d.once.test", i)) == nil {
				t.Error("no certificate")
			}
		}()
	}
	close(start)
	wg.Wait()
	if got := metricValue(t, reg, "cdnd_edge_cert_cache_total", "miss"); got != 1 {
		t.Fatalf("parsed %v times, want once", got)
	}
	if got := metricValue(t, reg, "cdnd_edge_cert_cache_total", "hit"); got != 15 {
		t.Fatalf("%v cache hits, want 15", got)
	}
}
