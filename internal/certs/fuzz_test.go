package certs_test

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cdnd/cdnd/internal/certs"
	"github.com/cdnd/cdnd/internal/certs/certstest"
)

// Run with e.g. go test -run=^$ -fuzz=FuzzParseChain -fuzztime=10s ./internal/certs/

func FuzzParseChain(f *testing.F) {
	now := time.Now()
	for _, keyType := range []string{"ecdsa", "rsa", "ed25519"} {
		chainPEM, keyPEM := certstest.Issue(f, keyType, now, now.Add(time.Hour), "fuzz.example", "*.fuzz.example")
		f.Add(chainPEM)
		f.Add(append(bytes.Clone(chainPEM), keyPEM...))
		for _, m := range messy {
			f.Add(m.f(bytes.Clone(chainPEM)))
		}
		// Reversed: CA first.
		if i := bytes.Index(chainPEM, []byte("-----END CERTIFICATE-----\n")); i > 0 {
			split := i + len("-----END CERTIFICATE-----\n")
			f.Add(append(bytes.Clone(chainPEM[split:]), chainPEM[:split]...))
			f.Add(chainPEM[:split/2])
		}
	}
	f.Add([]byte(""))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n"))
	f.Add([]byte("\uFEFF-----BEGIN CERTIFICATE-----\r\nMAA=\r\n-----END CERTIFICATE-----\r\njunk"))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nX: -----BEGIN CERTIFICATE-----\n\nMAA=\n-----END CERTIFICATE-----\n"))

	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := certs.ParseChain(data)
		if err != nil {
			if !errors.Is(err, certs.ErrNoCertificate) && !errors.Is(err, certs.ErrMalformedCert) {
				t.Fatalf("error %v wraps no documented sentinel", err)
			}
			if c != nil {
				t.Fatal("chain returned with an error")
			}
			return
		}
		checkChain(t, c)
		encoded := certs.EncodeChain(c)
		again, err := certs.ParseChain(encoded)
		if err != nil {
			t.Fatalf("EncodeChain output does not parse: %v", err)
		}
		if !equalDER(c.DER, again.DER) {
			t.Fatal("EncodeChain then ParseChain changed the chain")
		}
		if !bytes.Equal(certs.EncodeChain(again), encoded) {
			t.Fatal("EncodeChain is not a fixed point")
		}
	})
}

func checkChain(t *testing.T, c *certs.Chain) {
	t.Helper()
	if len(c.Certs) == 0 || c.Leaf != c.Certs[0] || len(c.DER) != len(c.Certs) {
		t.Fatal("inconsistent chain")
	}
	for i := range c.Certs {
		if !bytes.Equal(c.DER[i], c.Certs[i].Raw) {
			t.Fatalf("DER[%d] is not Certs[%d].Raw", i, i)
		}
		for j := 0; j < i; j++ {
			if bytes.Equal(c.DER[i], c.DER[j]) {
				t.Fatalf("certificate %d duplicates %d", i, j)
			}
		}
	}
}

func FuzzParseKey(f *testing.F) {
	now := time.Now()
	for _, keyType := range []string{"ecdsa", "rsa", "ed25519"} {
		chainPEM, keyPEM := certstest.Issue(f, keyType, now, now.Add(time.Hour), "fuzz.example")
		f.Add(keyPEM)
		f.Add(append(bytes.Clone(chainPEM), keyPEM...))
		f.Add(bytes.ReplaceAll(keyPEM, []byte("\n"), []byte("\r\n")))
		f.Add(keyPEM[:len(keyPEM)/2])
	}
	f.Add(certstest.EncryptedKey(f))
	f.Add([]byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAA=\n-----END ENCRYPTED PRIVATE KEY-----\n"))
	f.Add([]byte("-----BEGIN RSA PRIVATE KEY-----\nMAA=\n-----END RSA PRIVATE KEY-----\n"))
	f.Add([]byte("-----BEGIN EC PRIVATE KEY-----\nMAA=\n-----END EC PRIVATE KEY-----\n"))
	f.Add(pkcs1WithModulus(512))
	f.Add([]byte(""))

	f.Fuzz(func(t *testing.T, data []byte) {
		key, err := certs.ParseKey(data)
		if err != nil {
			if !errors.Is(err, certs.ErrNoKey) && !errors.Is(err, certs.ErrEncryptedKey) &&
				!errors.Is(err, certs.ErrMalformedKey) && !errors.Is(err, certs.ErrUnsupportedKey) {
				t.Fatalf("error %v wraps no documented sentinel", err)
			}
			if run := longBase64Run(err.Error()); run != "" {
				t.Fatalf("error %q contains base64-like %q", err, run)
			}
			if key != nil {
				t.Fatal("key returned with an error")
			}
			return
		}
		out, err := certs.EncodeKey(key)
		if err != nil {
			t.Fatalf("parsed key does not encode: %v", err)
		}
		again, err := certs.ParseKey(out)
		if err != nil {
			t.Fatalf("EncodeKey output does not parse: %v", err)
		}
		pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
		if !ok || !pub.Equal(again.Public()) {
			t.Fatal("EncodeKey then ParseKey changed the key")
		}
	})
}

// hostRE is an independent definition of an ordinary (non-wildcard) host
// name: letters, digits and hyphens in non-empty labels, one optional
// trailing dot.
var hostRE = regexp.MustCompile(`^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.?$`)

func upperASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

func FuzzCovers(f *testing.F) {
	for _, seed := range [][2]string{
		{"example.com", "example.com"},
		{"*.example.com", "www.example.com"},
		{"*.example.com", ".example.com"},
		{"*.example.com", "a.b.example.com"},
		{"Example.COM.", "example.com"},
		{"w*.example.com", "www.example.com"},
		{"*.xn--fiqs8s", "xn--55qx5d.xn--fiqs8s"},
		{"", ""},
		{"*", "*"},
		{".", ".."},
		{"\u212a.example", "k.example"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, pattern, host string) {
		got := certs.Covers(pattern, host)
		if got != certs.CoversAny([]string{pattern}, host) {
			t.Fatal("CoversAny disagrees with Covers")
		}
		if !strings.HasSuffix(host, ".") && !strings.HasSuffix(pattern, ".") {
			if certs.Covers(upperASCII(pattern)+".", upperASCII(host)+".") != got {
				t.Fatal("case or a trailing dot changed the answer")
			}
		}
		if got && !strings.Contains(pattern, "*") {
			norm := func(s string) string { return strings.TrimSuffix(upperASCII(s), ".") }
			if norm(pattern) != norm(host) {
				t.Fatalf("non-wildcard %q covers different host %q", pattern, host)
			}
		}
		if hostRE.MatchString(host) {
			if !certs.Covers(host, host) {
				t.Fatalf("Covers(%q, itself) is false", host)
			}
			if label, parent, ok := strings.Cut(strings.TrimSuffix(host, "."), "."); ok && label != "" {
				if !certs.Covers("*."+parent, host) {
					t.Fatalf("*.%s does not cover %q", parent, host)
				}
				if !certs.Covers("*."+parent, "."+parent) {
					t.Fatalf("*.%s does not cover the CDN wildcard .%s", parent, parent)
				}
				if certs.Covers("*."+host, host) || certs.Covers(host, "."+parent) {
					t.Fatalf("wildcard coverage wrong for %q", host)
				}
			}
		}
	})
}

// FuzzKeyMatchesDER: any bytes as a leaf either match the key or not, never
// panic, and a certificate that matches carries the key's public half.
func FuzzKeyMatchesDER(f *testing.F) {
	chainPEM, keyPEM := certstest.Valid(f, "fuzz.example")
	chain, err := certs.ParseChain(chainPEM)
	if err != nil {
		f.Fatal(err)
	}
	key, err := certs.ParseKey(keyPEM)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(chain.Leaf.Raw)
	f.Add(chain.Certs[1].Raw)
	f.Add(chain.Leaf.Raw[:100])
	f.Fuzz(func(t *testing.T, der []byte) {
		if !certs.KeyMatchesDER(der, key) {
			return
		}
		if c, err := x509.ParseCertificate(der); err == nil && !certs.KeyMatches(c, key) {
			t.Fatalf("matched %x, a certificate of another key", der)
		}
	})
}
