package edge

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"testing"

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

// BenchmarkHandshake is one full TLS 1.3 handshake (ECDSA P-256 leaf, the
// default key exchange, no resumption), client and server both, over
// net.Pipe, cycling through the domains' names.
func BenchmarkHandshake(b *testing.B) {
	for _, n := range []int{1, 10000} {
		b.Run(fmt.Sprintf("domains=%d", n), func(b *testing.B) {
			e, names := benchEdge(b, n)
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
				cli := tls.Client(c2, &tls.Config{ServerName: names[i%len(names)], RootCAs: roots, MinVersion: tls.VersionTLS13})
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
