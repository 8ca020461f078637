package edge

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// TestParseSharesIntermediates: two certificates of one CA, parsed, carry
// the same intermediate bytes (one copy in memory), and their own leaves.
func TestParseSharesIntermediates(t *testing.T) {
	cache := newCertCache(10, testKR, slog.New(slog.DiscardHandler), newMetrics(nil))
	a, b := issue(t, "a.example.com").record(t, acct, "a"), issue(t, "b.example.com").record(t, acct, "b")
	pa, err := cache.parse(newCertEntry(&a))
	if err != nil {
		t.Fatal(err)
	}
	pb, err := cache.parse(newCertEntry(&b))
	if err != nil {
		t.Fatal(err)
	}
	if len(pa.Certificate) != 2 || len(pb.Certificate) != 2 {
		t.Fatalf("chains of %d and %d certificates, want leaf + CA", len(pa.Certificate), len(pb.Certificate))
	}
	if &pa.Certificate[1][0] != &pb.Certificate[1][0] {
		t.Error("the CA certificate is decoded once per leaf, not shared")
	}
	if bytes.Equal(pa.Certificate[0], pb.Certificate[0]) {
		t.Error("two certificates share a leaf")
	}
}

// TestParseRefusesDamagedRecords: a record whose chain is not PEM
// certificates in serving order, or whose key is not the leaf's, is
// refused with an error that names no key material.
func TestParseRefusesDamagedRecords(t *testing.T) {
	cache := newCertCache(10, testKR, slog.New(slog.DiscardHandler), newMetrics(nil))
	good := issue(t, "good.example.com")
	chain := string(good.chainPEM)
	end := strings.Index(chain, endCertificate) + len(endCertificate) + 1
	leaf, ca := chain[:end], chain[end:]
	for _, tc := range []struct{ name, chain string }{
		{"not PEM", "garbage"},
		{"empty", ""},
		{"CA first", ca + leaf},
		{"CA alone", ca},
		{"a key block in the chain", leaf + string(good.keyPEM)},
		{"trailing bytes", chain + "junk"},
		{"leaf body damaged", strings.Replace(leaf, "\nM", "\n*", 1) + ca},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := good.record(t, acct, "c")
			rec.ChainPEM = tc.chain
			_, err := cache.parse(newCertEntry(&rec))
			if err == nil {
				t.Fatal("parsed")
			}
			if strings.Contains(err.Error(), "PRIVATE") || strings.Contains(err.Error(), string(good.keyPEM[40:80])) {
				t.Fatalf("error quotes the key: %v", err)
			}
		})
	}
	rec := good.record(t, acct, "c")
	if _, err := cache.parse(newCertEntry(&rec)); err != nil {
		t.Fatalf("the good record: %v", err)
	}
}
