// Package certstest issues real certificates and keys for tests of other
// packages (the API, the certificate repository, the edge), so that they
// exercise real PEM, real X.509 and real TLS handshakes instead of fixtures
// that go stale or expire.
//
// It is an ordinary (non-test) package so that any package's tests can
// import it; nothing outside tests should.
package certstest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"
)

// Issue creates a leaf certificate for names, valid from notBefore to
// notAfter, signed by a test CA, and returns the PEM chain (leaf then CA)
// and the leaf's private key as PKCS#8 PEM.
//
// The leaf has CN = names[0] and SANs = names (names that parse as IP
// addresses become IP SANs), a random serial, KeyUsage DigitalSignature and
// ExtKeyUsage ServerAuth. The CA (ECDSA P-256, CN "cdnd test CA", O "cdnd
// test") is created once per process; trust it by adding the chain PEM to a
// pool.
//
// keyType is "ecdsa" (P-256), "rsa" (2048 bits) or "ed25519". Generating
// RSA keys is slow, so RSA keys come from a lazily grown process-wide pool:
// the n-th RSA leaf issued within one testing.TB gets pool key n. Two RSA
// leaves of the same test therefore never share a key, while leaves of
// different tests may.
func Issue(t testing.TB, keyType string, notBefore, notAfter time.Time, names ...string) (chainPEM, keyPEM []byte) {
	t.Helper()
	key := leafKey(t, keyType)
	chainPEM = issueFor(t, key.Public(), notBefore, notAfter, names...)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("certstest: marshal leaf key: %v", err)
	}
	return chainPEM, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
}

// SignCSR issues a certificate for a signing request (its subject's CN and
// its DNS names), valid from an hour ago for 90 days, chained to the test CA.
func SignCSR(t testing.TB, csr *x509.CertificateRequest) []byte {
	t.Helper()
	now := time.Now()
	names := append([]string{csr.Subject.CommonName}, csr.DNSNames...)
	return issueFor(t, csr.PublicKey, now.Add(-time.Hour), now.Add(90*24*time.Hour), names...)
}

// issueFor signs a leaf for pub with the test CA and returns leaf + CA PEM.
func issueFor(t testing.TB, pub any, notBefore, notAfter time.Time, names ...string) []byte {
	t.Helper()
	ca := testCA(t)
	tmpl := &x509.Certificate{
		SerialNumber: serial(t),
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if len(names) > 0 {
		tmpl.Subject.CommonName = names[0]
	}
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			continue
		}
		seen[n] = true
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub, ca.key)
	if err != nil {
		t.Fatalf("certstest: create leaf certificate: %v", err)
	}
	chainPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return append(chainPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})...)
}

// Valid is Issue with an ECDSA key, valid from an hour ago for 90 days.
func Valid(t testing.TB, names ...string) (chainPEM, keyPEM []byte) {
	t.Helper()
	now := time.Now()
	return Issue(t, "ecdsa", now.Add(-time.Hour), now.Add(90*24*time.Hour), names...)
}

// EncryptedKey returns a 2048-bit RSA key as PKCS#1 PEM encrypted the legacy
// OpenSSL way ("Proc-Type: 4,ENCRYPTED" and "DEK-Info" headers), for testing
// that such keys are rejected.
func EncryptedKey(t testing.TB) []byte {
	t.Helper()
	key := rsaKey(t)
	//lint:ignore SA1019 legacy PEM encryption is insecure, which is why it is deprecated; we need exactly such a key to test that cdnd rejects what users still paste.
	block, err := x509.EncryptPEMBlock(rand.Reader, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(key), []byte("password"), x509.PEMCipherAES256)
	if err != nil {
		t.Fatalf("certstest: encrypt key: %v", err)
	}
	return pem.EncodeToMemory(block)
}

func leafKey(t testing.TB, keyType string) crypto.Signer {
	t.Helper()
	switch keyType {
	case "ecdsa":
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatalf("certstest: generate ECDSA key: %v", err)
		}
		return key
	case "rsa":
		return rsaKey(t)
	case "ed25519":
		_, key, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatalf("certstest: generate Ed25519 key: %v", err)
		}
		return key
	}
	t.Fatalf("certstest: unknown key type %q (want ecdsa, rsa or ed25519)", keyType)
	return nil
}

func serial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatalf("certstest: serial number: %v", err)
	}
	return n.Add(n, big.NewInt(1)) // never zero
}

type authority struct {
	cert *x509.Certificate
	key  crypto.Signer
}

var (
	caOnce sync.Once
	ca     authority
	caErr  error
)

func testCA(t testing.TB) authority {
	t.Helper()
	caOnce.Do(func() { ca, caErr = newCA() })
	if caErr != nil {
		t.Fatalf("certstest: create test CA: %v", caErr)
	}
	return ca
}

func newCA() (authority, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return authority{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "cdnd test CA", Organization: []string{"cdnd test"}},
		NotBefore:             time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(2099, 12, 31, 0, 0, 0, 0, time.UTC),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return authority{}, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return authority{}, err
	}
	return authority{cert: cert, key: key}, nil
}
