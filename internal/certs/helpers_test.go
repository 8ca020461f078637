package certs_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// node is a certificate made by a test, with its key.
type node struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// pemOf encodes certificates as canonical PEM, in the order given.
func pemOf(certs ...*x509.Certificate) []byte {
	var buf bytes.Buffer
	for _, c := range certs {
		buf.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
	}
	return buf.Bytes()
}

// issue signs tmpl with parent (nil: self-signed) using a fresh P-256 key.
func issue(t *testing.T, tmpl *x509.Certificate, parent *node) node {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if tmpl.SerialNumber == nil {
		tmpl.SerialNumber = big.NewInt(time.Now().UnixNano())
	}
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = time.Now().Add(-time.Hour)
		tmpl.NotAfter = time.Now().Add(24 * time.Hour)
	}
	signer, issuer := crypto.Signer(key), tmpl
	if parent != nil {
		signer, issuer = parent.key, parent.cert
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, key.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return node{cert: cert, key: key}
}

func caTemplate(cn string) *x509.Certificate {
	return &x509.Certificate{
		Subject:               pkix.Name{CommonName: cn},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
}

func leafTemplate(cn string, sans ...string) *x509.Certificate {
	return &x509.Certificate{
		Subject:  pkix.Name{CommonName: cn},
		DNSNames: sans,
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
}

// hierarchy returns root -> intermediate -> leaf.
func hierarchy(t *testing.T, prefix string) (root, inter, leaf node) {
	t.Helper()
	root = issue(t, caTemplate(prefix+" root"), nil)
	inter = issue(t, caTemplate(prefix+" intermediate"), &root)
	leaf = issue(t, leafTemplate(prefix+".example", prefix+".example"), &inter)
	return root, inter, leaf
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// base64Body returns the base64 text of PEM data, even of broken PEM: every
// line that is neither a marker nor a header, joined.
func base64Body(data []byte) string {
	var out []byte
	for _, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if bytes.HasPrefix(line, []byte("-----")) || bytes.Contains(line, []byte(":")) {
			continue
		}
		out = append(out, line...)
	}
	return string(out)
}
