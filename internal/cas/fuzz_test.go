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

var sentinels = []error{
	cas.ErrChainTooLong, cas.ErrKeyTooLong, cas.ErrExpired,
	certs.ErrNoCertificate, certs.ErrMalformedCert,
	certs.ErrNoKey, certs.ErrEncryptedKey, certs.ErrMalformedKey, certs.ErrUnsupportedKey,
	certs.ErrKeyMismatch,
}

// FuzzParsePair: arbitrary chain and key text never panics; an error is one
// of the documented sentinels and carries no line of the key; success means
// the key is the leaf's and the leaf has not expired.
func FuzzParsePair(f *testing.F) {
	now := time.Now()
	chain, key := certstest.Valid(f, "www.example.com")
	_, otherKey := certstest.Valid(f, "other.example.com")
	oldChain, oldKey := certstest.Issue(f, "ecdsa", now.Add(-48*time.Hour), now.Add(-24*time.Hour), "old.example.com")
	edChain, edKey := certstest.Issue(f, "ed25519", now.Add(-time.Hour), now.Add(time.Hour), "ed.example.com")
	f.Add(string(chain), string(key))
	f.Add(string(chain), string(otherKey))
	f.Add(string(oldChain), string(oldKey))
	f.Add(string(edChain), string(edKey))
	f.Add(string(chain), string(certstest.EncryptedKey(f)))
	f.Add(string(key), string(chain))
	f.Add(string(chain), string(chain)+string(key))
	f.Add("", "")
	f.Add("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n", "-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n")

	f.Fuzz(func(t *testing.T, chainPEM, keyPEM string) {
		p, err := cas.ParsePair(chainPEM, keyPEM, now)
		if err != nil {
			if p != nil {
				t.Fatalf("ParsePair returned a pair with error %v", err)
			}
			known := false
			for _, s := range sentinels {
				known = known || errors.Is(err, s)
			}
			if !known {
				t.Fatalf("error %q is none of the documented sentinels", err)
			}
			for _, l := range keyLines(keyPEM) {
				if strings.Contains(err.Error(), l) && !strings.Contains(chainPEM, l) {
					t.Fatalf("error %q contains key text %q", err, l)
				}
			}
			return
		}
		if len(chainPEM) > cas.MaxChainBytes || len(keyPEM) > cas.MaxKeyBytes {
			t.Fatalf("accepted oversized input (%d, %d bytes)", len(chainPEM), len(keyPEM))
		}
		if p == nil || p.Chain == nil || p.Chain.Leaf == nil {
			t.Fatal("success without a leaf")
		}
		k, err := certs.ParseKey([]byte(keyPEM))
		if err != nil {
			t.Fatalf("accepted a key ParseKey refuses: %v", err)
		}
		if !certs.KeyMatches(p.Chain.Leaf, k) {
			t.Fatal("accepted a key that is not the leaf's")
		}
		if now.After(p.Chain.Leaf.NotAfter) {
			t.Fatalf("accepted a leaf that expired at %v", p.Chain.Leaf.NotAfter)
		}
	})
}
