package cas_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cdnd/cdnd/internal/cas"
	"github.com/cdnd/cdnd/internal/certs"
	"github.com/cdnd/cdnd/internal/certs/certstest"
)

// keyLines are the base64 lines of a PEM key: what no error may contain.
func keyLines(keyPEM string) []string {
	var out []string
	for _, l := range strings.Split(keyPEM, "\n") {
		l = strings.TrimSpace(l)
		if len(l) >= 16 && !strings.HasPrefix(l, "-----") && !strings.Contains(l, ":") {
			out = append(out, l)
		}
	}
	return out
}

func TestParsePair(t *testing.T) {
	now := time.Now()
	chain, key := certstest.Valid(t, "www.example.com", "example.com")
	_, otherKey := certstest.Valid(t, "other.example.com")
	rsaChain, rsaKey := certstest.Issue(t, "rsa", now.Add(-time.Hour), now.Add(time.Hour), "rsa.example.com")
	edChain, edKey := certstest.Issue(t, "ed25519", now.Add(-time.Hour), now.Add(time.Hour), "ed.example.com")
	oldChain, oldKey := certstest.Issue(t, "ecdsa", now.Add(-48*time.Hour), now.Add(-24*time.Hour), "old.example.com")
	encKey := certstest.EncryptedKey(t)

	c, k := string(chain), string(key)
	leafPEM := c[:strings.Index(c, "-----END CERTIFICATE-----")+len("-----END CERTIFICATE-----\n")]
	caPEM := c[len(leafPEM):]
	pad := func(s string, n int) string { return s + strings.Repeat("\n", n-len(s)) }

	cases := []struct {
		name       string
		chain, key string
		want       []error // nil: success
		cn         string
	}{
		{"ecdsa", c, k, nil, "www.example.com"},
		{"rsa", string(rsaChain), string(rsaKey), nil, "rsa.example.com"},
		{"ed25519", string(edChain), string(edKey), nil, "ed.example.com"},
		{"chain reversed", caPEM + leafPEM, k, nil, "www.example.com"},
		{"leaf only", leafPEM, k, nil, "www.example.com"},
		{"CRLF", strings.ReplaceAll(c, "\n", "\r\n"), strings.ReplaceAll(k, "\n", "\r\n"), nil, "www.example.com"},
		{"chain at the limit", pad(c, cas.MaxChainBytes), k, nil, "www.example.com"},
		{"key at the limit", c, pad(k, cas.MaxKeyBytes), nil, "www.example.com"},
		{"chain over the limit", pad(c, cas.MaxChainBytes+1), k, []error{cas.ErrChainTooLong}, ""},
		{"huge garbage chain", strings.Repeat("A", 1<<20), k, []error{cas.ErrChainTooLong}, ""},
		{"key over the limit", c, pad(k, cas.MaxKeyBytes+1), []error{cas.ErrKeyTooLong}, ""},
		{"expired", string(oldChain), string(oldKey), []error{cas.ErrExpired}, ""},
		{"key of another certificate", c, string(otherKey), []error{certs.ErrKeyMismatch}, ""},
		{"encrypted key", c, string(encKey), []error{certs.ErrEncryptedKey}, ""},
		{"garbage chain", "not a certificate", k, []error{certs.ErrNoCertificate}, ""},
		{"garbage key", c, "not a key", []error{certs.ErrNoKey}, ""},
		{"both garbage", "junk", "junk", []error{certs.ErrNoCertificate, certs.ErrNoKey}, ""},
		{"empty", "", "", []error{certs.ErrNoCertificate, certs.ErrNoKey}, ""},
		{"swapped", k, c, []error{certs.ErrNoCertificate, certs.ErrNoKey}, ""},
		{"truncated chain", c[:len(c)/3], k, []error{certs.ErrMalformedCert}, ""},
		{"truncated key", c, k[:len(k)/2], []error{certs.ErrMalformedKey}, ""},
		{"corrupted key body", c, strings.Replace(k, "\n", "\nAAAA", 1), []error{certs.ErrMalformedKey}, ""},
		{"key pasted with the chain", c, c + k, nil, "www.example.com"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := cas.ParsePair(tc.chain, tc.key, now)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("ParsePair = %v, want success", err)
				}
				if p.Chain.Leaf.Subject.CommonName != tc.cn {
					t.Errorf("leaf CN = %q, want %q", p.Chain.Leaf.Subject.CommonName, tc.cn)
				}
				return
			}
			if err == nil || p != nil {
				t.Fatalf("ParsePair = %v, %v; want %v", p, err, tc.want)
			}
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Errorf("ParsePair error %q is not %v", err, w)
				}
			}
			for _, l := range keyLines(tc.key) {
				if strings.Contains(err.Error(), l) {
					t.Errorf("error %q contains key material", err)
				}
			}
		})
	}
}

// The leaf expiring at exactly now is still accepted; a nanosecond later it is not.
func TestParsePairExpiryBoundary(t *testing.T) {
	now := time.Now()
	chain, key := certstest.Issue(t, "ecdsa", now.Add(-time.Hour), now.Add(time.Hour), "edge.example.com")
	p, err := cas.ParsePair(string(chain), string(key), now)
	if err != nil {
		t.Fatal(err)
	}
	notAfter := p.Chain.Leaf.NotAfter
	if _, err := cas.ParsePair(string(chain), string(key), notAfter); err != nil {
		t.Errorf("at NotAfter: %v, want accepted", err)
	}
	if _, err := cas.ParsePair(string(chain), string(key), notAfter.Add(time.Nanosecond)); !errors.Is(err, cas.ErrExpired) {
		t.Errorf("after NotAfter: %v, want ErrExpired", err)
	}
}
