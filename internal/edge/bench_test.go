package edge

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/cdnd/cdnd/internal/store"
)

// benchServed is n domains "d{i}.bench.test" bound round-robin to a few
// wildcard certificates: many domains, few keys, fast to set up.
func benchServed(b *testing.B, n int) (*store.Served, []string) {
	b.Helper()
	const nCerts = 8
	s := &store.Served{Revision: 1}
	for i := 0; i < nCerts; i++ {
		c := issue(b, "*.bench.test")
		s.Certs = append(s.Certs, c.record(b, acct, fmt.Sprintf("c%d", i)))
	}
	names := make([]string, n)
	s.Domains = make([]store.Domain, n)
	for i := range names {
		names[i] = fmt.Sprintf("d%d.bench.test", i)
		s.Domains[i] = domain(names[i], fmt.Sprintf("c%d", i%nCerts))
	}
	return s, names
}

func benchEdge(b *testing.B, n int) (*Edge, []string) {
	b.Helper()
	s, names := benchServed(b, n)
	e := New(Config{Keyring: testKR, Logger: slog.New(slog.DiscardHandler)})
	e.load(s)
	return e, names
}

// benchSettings is what every domain gets with settings=all: the
// functions that act on the handshake (TLS versions, ALPN) and on every
// response.
func benchSettings(domain string) store.DomainConfigs {
	return store.DomainConfigs{Domain: domain, Configs: []store.FunctionConfig{
		{ConfigID: 1, Function: "https_tls_version", Args: []store.FunctionArg{{Name: "tls10", Value: "off"}, {Name: "tls11", Value: "off"}, {Name: "tls12", Value: "on"}, {Name: "tls13", Value: "on"}}},
		{ConfigID: 2, Function: "https_option", Args: []store.FunctionArg{{Name: "http2", Value: "off"}}},
		{ConfigID: 3, Function: "HSTS", Args: []store.FunctionArg{{Name: "enabled", Value: "on"}, {Name: "https_hsts_max_age", Value: "5184000"}, {Name: "https_hsts_include_subdomains", Value: "off"}}},
		{ConfigID: 4, Function: "https_force", Args: []store.FunctionArg{{Name: "enable", Value: "on"}, {Name: "https_rewrite", Value: "301"}}},
	}}
}

// BenchmarkHandshake is one full TLS 1.3 handshake (ECDSA P-256 leaf, the
// default key exchange, no resumption), client and server both, over
// net.Pipe, cycling through the domains' names; with settings=all every
// domain has configs that choose its handshake's TLS config.
func BenchmarkHandshake(b *testing.B) {
	for _, bc := range []struct {
		n        int
		settings bool
	}{{1, false}, {10000, false}, {10000, true}} {
		name := fmt.Sprintf("domains=%d/settings=none", bc.n)
		if bc.settings {
			name = fmt.Sprintf("domains=%d/settings=all", bc.n)
		}
		b.Run(name, func(b *testing.B) {
			s, names := benchServed(b, bc.n)
			if bc.settings {
				for _, d := range names {
					s.Configs = append(s.Configs, benchSettings(d))
				}
			}
			e := New(Config{Keyring: testKR, Logger: slog.New(slog.DiscardHandler)})
			e.load(s)
			srvCfg := e.TLSConfig()
			// No resumption. Also required by net.Pipe: a session ticket
			// written after the server's Finished would block the
			// synchronous pipe until the client reads again.
			srvCfg.SessionTicketsDisabled = true
			roots := testRoots()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				c1, c2 := net.Pipe()
				done := make(chan error, 1)
				go func() { done <- tls.Server(c1, srvCfg).Handshake() }()
				cli := tls.Client(c2, &tls.Config{ServerName: names[i%len(names)], RootCAs: roots, MinVersion: tls.VersionTLS13, NextProtos: []string{"h2", "http/1.1"}})
				err := cli.Handshake()
				if serr := <-done; err == nil {
					err = serr
				}
				c1.Close()
				c2.Close()
				if err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkGetCertificate is the certificate selection alone (index lookup
// and cache hit) with 100,000 domains.
func BenchmarkGetCertificate(b *testing.B) {
	e, names := benchEdge(b, 100000)
	hellos := make([]tls.ClientHelloInfo, 4096)
	for i := range hellos {
		hellos[i].ServerName = names[(i*7919)%len(names)]
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if c, _ := e.getCertificate(&hellos[i%len(hellos)]); c == nil {
				b.Fatal("no certificate")
			}
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if c, _ := e.getCertificate(&hellos[i%len(hellos)]); c == nil {
					b.Error("no certificate")
					return
				}
				i++
			}
		})
	})
}

// BenchmarkLoad100k is installing a full load of 100,000 domains: what a
// start or a reload costs. No certificate is parsed.
func BenchmarkLoad100k(b *testing.B) {
	s, _ := benchServed(b, 100000)
	b.ReportAllocs()
	for b.Loop() {
		e := New(Config{Keyring: testKR, Logger: slog.New(slog.DiscardHandler)})
		e.load(s)
	}
}

// BenchmarkApply is one revision of one domain change against an index of
// 100,000: the cost must not grow with the index.
func BenchmarkApply(b *testing.B) {
	e, _ := benchEdge(b, 100000)
	d := domain("d1.bench.test", "c1")
	changes := []store.Change{{Domain: &d}}
	rev := int64(1)
	b.ReportAllocs()
	for b.Loop() {
		rev++
		_ = e.applyRevision(rev, changes)
	}
}

// BenchmarkCertParse is turning a certificate record into what a handshake
// serves: a cache miss (unseal, parse, key check).
func BenchmarkCertParse(b *testing.B) {
	rec := issue(b, "parse.bench.test").record(b, acct, "c")
	entry := newCertEntry(&rec)
	e := New(Config{Keyring: testKR, Logger: slog.New(slog.DiscardHandler)})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.cache.parse(entry); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSettingPropagation is how long a setting change takes from its
// commit to the store until a handshake on this edge sees it, with 10,000
// domains served: a running edge on the embedded etcd, https_option's
// http2 toggled on one domain per iteration. It reports p50 and p99.
func BenchmarkSettingPropagation(b *testing.B) {
	st := testStore.WithPrefix("/bench-" + b.Name())
	s, names := benchServed(b, 10000)
	for start := 0; start < len(names); start += 50 {
		t := st.Txn()
		for _, d := range s.Domains[start:min(start+50, len(names))] {
			t.Put(store.DomainKey(d.Name), d)
		}
		if _, err := t.Commit(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
	for i := range s.Certs {
		if _, err := st.Txn().Put(store.CertKey(acct, s.Certs[i].Name), s.Certs[i]).Commit(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
	e := New(Config{Store: st, Keyring: testKR, EdgeID: "bench", Logger: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	defer func() { cancel(); <-done }()
	for !e.Ready() {
		time.Sleep(time.Millisecond)
	}
	var lat []time.Duration
	i := 0
	for b.Loop() {
		name := names[(i*7919)%len(names)]
		off := i%2 == 0
		v := "on"
		if off {
			v = "off"
		}
		c := store.DomainConfigs{Domain: name, Configs: []store.FunctionConfig{{ConfigID: 1, Function: "https_option", Args: []store.FunctionArg{{Name: "http2", Value: v}}}}}
		start := time.Now()
		if _, err := st.Txn().PutDomainConfigs(c).Commit(b.Context()); err != nil {
			b.Fatal(err)
		}
		for {
			if d := e.idx.domain(name); d != nil && d.settings != nil && d.settings.h2Off == off {
				break
			}
			runtime.Gosched()
		}
		lat = append(lat, time.Since(start))
		i++
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
