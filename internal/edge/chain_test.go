package edge

import (
	"strings"
	"testing"
)

func TestCompactChainSharesIntermediates(t *testing.T) {
	a, b := issue(t, "a.example.com"), issue(t, "b.example.com")
	ca, cb := newCompactChain(string(a.chainPEM)), newCompactChain(string(b.chainPEM))
	if ca.String() != string(a.chainPEM) || cb.String() != string(b.chainPEM) {
		t.Fatal("a compact chain does not give back what it was made of")
	}
	if ca.rest != cb.rest || ca.rest.Value() == "" {
		t.Fatal("two chains of one CA do not share their intermediates")
	}
	if !strings.HasPrefix(ca.leaf, "-----BEGIN CERTIFICATE-----") || strings.Count(ca.leaf, "BEGIN") != 1 {
		t.Fatalf("leaf: %q", ca.leaf)
	}
	if one := newCompactChain("garbage"); one.String() != "garbage" {
		t.Fatalf("non-PEM: %q", one.String())
	}
}
