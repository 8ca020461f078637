package certs_test

import (
	"testing"
	"time"

	"github.com/cdnd/cdnd/internal/certs"
	"github.com/cdnd/cdnd/internal/certs/certstest"
)

func TestFingerprints(t *testing.T) {
	// Expected values computed by OpenSSL, not by this package (see
	// testdata/README.md).
	leaf := mustLeaf(t, readTestdata(t, "fixed-cert.pem"))
	if got, want := certs.Fingerprint(leaf), "9f0b788de63541bc546ba39cdd09b9c56390dc85d908aa21e42161dace166fd2"; got != want {
		t.Errorf("Fingerprint = %s, want %s", got, want)
	}
	if got, want := certs.SHA1Fingerprint(leaf), "2FA63B51F0A19B60FC3C771EDB45F590E7EB38D9"; got != want {
		t.Errorf("SHA1Fingerprint = %s, want %s", got, want)
	}
	other, _ := certstest.Valid(t, "fixture.example")
	if certs.Fingerprint(mustLeaf(t, other)) == certs.Fingerprint(leaf) {
		t.Error("different certificates have the same fingerprint")
	}
}

func TestKeyAlgorithm(t *testing.T) {
	now := time.Now()
	for keyType, want := range map[string]string{"ecdsa": "ECDSA", "rsa": "RSA", "ed25519": "Ed25519"} {
		chainPEM, _ := certstest.Issue(t, keyType, now, now.Add(time.Hour), "alg.example")
		if got := certs.KeyAlgorithm(mustLeaf(t, chainPEM)); got != want {
			t.Errorf("%s: KeyAlgorithm = %q, want %q", keyType, got, want)
		}
	}
	if got := certs.KeyAlgorithm(mustLeaf(t, readTestdata(t, "dsa-cert.pem"))); got != "DSA" {
		t.Errorf("DSA certificate: KeyAlgorithm = %q, want DSA", got)
	}
}

func TestIssuerOrg(t *testing.T) {
	chainPEM, _ := certstest.Valid(t, "org.example")
	if got := certs.IssuerOrg(mustLeaf(t, chainPEM)); got != "cdnd test" {
		t.Errorf("IssuerOrg with an O = %q, want %q", got, "cdnd test")
	}
	if got := certs.IssuerOrg(mustLeaf(t, readTestdata(t, "fixed-cert.pem"))); got != "Fixture Org" {
		t.Errorf("IssuerOrg of fixture = %q, want %q", got, "Fixture Org")
	}
	_, _, leaf := hierarchy(t, "noorg")
	if got := certs.IssuerOrg(leaf.cert); got != "noorg intermediate" {
		t.Errorf("IssuerOrg without O = %q, want the issuer CN", got)
	}
}
