package certs_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cdnd/cdnd/internal/certs"
	"github.com/cdnd/cdnd/internal/certs/certstest"
)

func TestEncodeChainCanonical(t *testing.T) {
	root, inter, leaf := hierarchy(t, "enc")
	messyIn := bytes.ReplaceAll(pemOf(root.cert, inter.cert, leaf.cert), []byte("\n"), []byte("\r\n\r\n"))
	c, err := certs.ParseChain(append([]byte("\uFEFF  "), messyIn...))
	if err != nil {
		t.Fatal(err)
	}
	out := certs.EncodeChain(c)
	if want := pemOf(leaf.cert, inter.cert, root.cert); !bytes.Equal(out, want) {
		t.Fatalf("EncodeChain =\n%s\nwant\n%s", out, want)
	}
	text := string(out)
	if strings.Contains(text, "\r") || strings.Contains(text, "\n\n") || !strings.HasSuffix(text, "-----\n") {
		t.Error("not LF-only, single-spaced and newline-terminated")
	}
	for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if len(line) > 64 {
			t.Errorf("line %d is %d characters", i+1, len(line))
		}
	}
	if certs.EncodeChain(nil) != nil {
		t.Error("EncodeChain(nil) is not nil")
	}
}

func TestEncodeKey(t *testing.T) {
	now := time.Now()
	for _, keyType := range []string{"ecdsa", "rsa", "ed25519"} {
		chainPEM, keyPEM := certstest.Issue(t, keyType, now, now.Add(time.Hour), "k.example")
		inputs := [][]byte{keyPEM}
		if keyType != "ed25519" {
			inputs = append(inputs, legacyForm(t, keyPEM))
		}
		for _, in := range inputs {
			out, err := certs.EncodeKey(mustKey(t, in))
			if err != nil {
				t.Fatalf("%s: %v", keyType, err)
			}
			if !bytes.Equal(out, keyPEM) {
				t.Errorf("%s: EncodeKey is not the canonical PKCS#8 PEM:\n%s", keyType, out)
			}
			if !certs.KeyMatches(mustLeaf(t, chainPEM), mustKey(t, out)) {
				t.Errorf("%s: re-parsed key does not match", keyType)
			}
		}
	}
}

func TestEncodeKeyRefusesUnsupported(t *testing.T) {
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := certs.EncodeKey(small); !errors.Is(err, certs.ErrUnsupportedKey) {
		t.Errorf("RSA 1024: err = %v, want ErrUnsupportedKey", err)
	}
	if _, err := certs.EncodeKey(p224); !errors.Is(err, certs.ErrUnsupportedKey) {
		t.Errorf("P-224: err = %v, want ErrUnsupportedKey", err)
	}
	if _, err := certs.EncodeKey(nil); !errors.Is(err, certs.ErrUnsupportedKey) {
		t.Errorf("nil: err = %v, want ErrUnsupportedKey", err)
	}
}
