package certs_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cdnd/cdnd/internal/certs"
	"github.com/cdnd/cdnd/internal/certs/certstest"
)

func mustKey(t *testing.T, keyPEM []byte) crypto.Signer {
	t.Helper()
	k, err := certs.ParseKey(keyPEM)
	if err != nil {
		t.Fatalf("ParseKey: %v", err)
	}
	return k
}

func mustLeaf(t *testing.T, chainPEM []byte) *x509.Certificate {
	t.Helper()
	c, err := certs.ParseChain(chainPEM)
	if err != nil {
		t.Fatalf("ParseChain: %v", err)
	}
	return c.Leaf
}

// legacyForm re-encodes a PKCS#8 key PEM as PKCS#1 (RSA) or SEC1 (ECDSA),
// the "RSA PRIVATE KEY" and "EC PRIVATE KEY" forms.
func legacyForm(t *testing.T, keyPEM []byte) []byte {
	t.Helper()
	switch k := mustKey(t, keyPEM).(type) {
	case *rsa.PrivateKey:
		return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
	case *ecdsa.PrivateKey:
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
	}
	t.Fatal("no legacy form")
	return nil
}

func TestParseKeyFormats(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		keyType string
		legacy  string // the pre-PKCS#8 PEM type, if any
	}{
		{"ecdsa", "EC PRIVATE KEY"},
		{"rsa", "RSA PRIVATE KEY"},
		{"ed25519", ""},
	} {
		t.Run(tc.keyType, func(t *testing.T) {
			chainPEM, keyPEM := certstest.Issue(t, tc.keyType, now, now.Add(time.Hour), "key.example")
			leaf := mustLeaf(t, chainPEM)
			forms := map[string][]byte{
				"PKCS#8":             keyPEM,
				"PKCS#8 after chain": append(bytes.Clone(chainPEM), keyPEM...),
				"PKCS#8 before cert": append(bytes.Clone(keyPEM), chainPEM...),
				"PKCS#8 CRLF":        bytes.ReplaceAll(keyPEM, []byte("\n"), []byte("\r\n")),
				"PKCS#8 BOM":         append([]byte("\uFEFF\n"), keyPEM...),
			}
			if tc.legacy != "" {
				legacy := legacyForm(t, keyPEM)
				if !bytes.HasPrefix(legacy, []byte("-----BEGIN "+tc.legacy+"-----")) {
					t.Fatalf("legacy form is not %s", tc.legacy)
				}
				forms[tc.legacy] = legacy
				forms[tc.legacy+" in combined file"] = append(append(bytes.Clone(chainPEM), '\n'), legacy...)
			}
			for name, in := range forms {
				key, err := certs.ParseKey(in)
				if err != nil {
					t.Errorf("%s: %v", name, err)
					continue
				}
				if !certs.KeyMatches(leaf, key) {
					t.Errorf("%s: key does not match its certificate", name)
				}
				// The key must really be the private half: sign and verify.
				digest := make([]byte, 32)
				var opts crypto.SignerOpts = crypto.SHA256
				if _, ok := key.(ed25519.PrivateKey); ok {
					opts = crypto.Hash(0)
				}
				sig, err := key.Sign(nil, digest, opts)
				if err != nil {
					t.Fatalf("%s: sign: %v", name, err)
				}
				if err := verify(leaf, digest, sig); err != nil {
					t.Errorf("%s: signature does not verify with the leaf: %v", name, err)
				}
			}
		})
	}
}

func verify(leaf *x509.Certificate, digest, sig []byte) error {
	switch pub := leaf.PublicKey.(type) {
	case *rsa.PublicKey:
		return rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest, sig)
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(pub, digest, sig) {
			return errors.New("bad ECDSA signature")
		}
	case ed25519.PublicKey:
		if !ed25519.Verify(pub, digest, sig) {
			return errors.New("bad Ed25519 signature")
		}
	}
	return nil
}

func TestParseKeyOpenSSLForms(t *testing.T) {
	// "openssl ecparam -genkey" writes EC PARAMETERS before the key.
	key := mustKey(t, readTestdata(t, "ec-key-ecparam.pem"))
	if _, ok := key.(*ecdsa.PrivateKey); !ok {
		t.Fatalf("got %T, want ECDSA", key)
	}
}

// pkcs1WithModulus is an "RSA PRIVATE KEY" whose modulus has the given
// size. It is not a usable key, only a structure to classify.
func pkcs1WithModulus(bits int) []byte {
	n := new(big.Int).Lsh(big.NewInt(1), uint(bits-1))
	one := big.NewInt(1)
	der, err := asn1.Marshal(struct {
		Version               int
		N                     *big.Int
		E                     int
		D, P, Q, Dp, Dq, Qinv *big.Int
	}{0, n.Add(n, one), 65537, one, one, one, one, one, one})
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: der})
}

func TestParseKeyBadInput(t *testing.T) {
	chainPEM, keyPEM := certstest.Valid(t, "bad-key.example")
	lines := strings.Split(string(keyPEM), "\n")
	noEnd := []byte(strings.Join(lines[:len(lines)-2], "\n"))
	halfBody := []byte(strings.Join(lines[:2], "\n") + "\n-----END PRIVATE KEY-----\n")
	relabel := func(b []byte, from, to string) []byte {
		return bytes.ReplaceAll(b, []byte(from), []byte(to))
	}

	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, certs.ErrNoKey},
		{"plain text", []byte("hunter2"), certs.ErrNoKey},
		{"certificate only", chainPEM, certs.ErrNoKey},
		{"public key only", []byte("-----BEGIN PUBLIC KEY-----\nMAA=\n-----END PUBLIC KEY-----\n"), certs.ErrNoKey},
		{"base64 without PEM armour", []byte(base64Body(keyPEM)), certs.ErrNoKey},

		{"legacy encrypted (certstest)", certstest.EncryptedKey(t), certs.ErrEncryptedKey},
		{"legacy encrypted (openssl)", readTestdata(t, "rsa-key-legacy-encrypted.pem"), certs.ErrEncryptedKey},
		{"PKCS#8 encrypted (openssl)", readTestdata(t, "ec-key-encrypted-pkcs8.pem"), certs.ErrEncryptedKey},
		{"encrypted after a certificate", append(bytes.Clone(chainPEM), certstest.EncryptedKey(t)...), certs.ErrEncryptedKey},

		{"truncated: no END line", noEnd, certs.ErrMalformedKey},
		{"truncated: half the base64", halfBody, certs.ErrMalformedKey},
		{"text before", append([]byte("key:\n"), keyPEM...), certs.ErrMalformedKey},
		{"garbage after", append(bytes.Clone(keyPEM), "EOF\n"...), certs.ErrMalformedKey},
		{"garbage between cert and key", append(append(bytes.Clone(chainPEM), "and the key:\n"...), keyPEM...), certs.ErrMalformedKey},
		{"bad base64", relabel(keyPEM, "\nMI", "\n!!"), certs.ErrMalformedKey},
		{"base64 of non-DER", []byte("-----BEGIN PRIVATE KEY-----\naGVsbG8gd29ybGQ=\n-----END PRIVATE KEY-----\n"), certs.ErrMalformedKey},
		{"empty key block", []byte("-----BEGIN RSA PRIVATE KEY-----\n-----END RSA PRIVATE KEY-----\n"), certs.ErrMalformedKey},
		{"PKCS#8 labelled RSA PRIVATE KEY", relabel(keyPEM, "PRIVATE KEY", "RSA PRIVATE KEY"), certs.ErrMalformedKey},
		{"PKCS#8 labelled EC PRIVATE KEY", relabel(keyPEM, "PRIVATE KEY", "EC PRIVATE KEY"), certs.ErrMalformedKey},
		{"END type differs", relabel(keyPEM, "END PRIVATE KEY", "END RSA PRIVATE KEY"), certs.ErrMalformedKey},

		{"RSA 1024 (openssl)", readTestdata(t, "rsa1024-key.pem"), certs.ErrUnsupportedKey},
		{"RSA 1024 as PKCS#8", pkcs8Of(t, readTestdata(t, "rsa1024-key.pem")), certs.ErrUnsupportedKey},
		{"RSA 512 modulus", pkcs1WithModulus(512), certs.ErrUnsupportedKey},
		{"RSA 16384 modulus", pkcs1WithModulus(16384), certs.ErrUnsupportedKey},
		{"RSA-PSS (openssl)", readTestdata(t, "rsa-pss-key.pem"), certs.ErrUnsupportedKey},
		{"P-224 (openssl)", readTestdata(t, "ec-key-p224.pem"), certs.ErrUnsupportedKey},
		{"secp256k1 SEC1 (openssl)", readTestdata(t, "ec-key-secp256k1.pem"), certs.ErrUnsupportedKey},
		{"secp256k1 PKCS#8 (openssl)", readTestdata(t, "ec-key-secp256k1-pkcs8.pem"), certs.ErrUnsupportedKey},
		{"DSA PKCS#8 (openssl)", readTestdata(t, "dsa-key-pkcs8.pem"), certs.ErrUnsupportedKey},
		{"DSA legacy (openssl)", readTestdata(t, "dsa-key-legacy.pem"), certs.ErrUnsupportedKey},
		{"X25519 (openssl)", readTestdata(t, "x25519-key.pem"), certs.ErrUnsupportedKey},
		{"Ed448 (openssl)", readTestdata(t, "ed448-key.pem"), certs.ErrUnsupportedKey},
		{"OpenSSH key", []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n"), certs.ErrUnsupportedKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key, err := certs.ParseKey(tc.in)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if key != nil {
				t.Error("non-nil key with an error")
			}
		})
	}
}

// pkcs8Of re-encodes a PKCS#1 RSA key PEM as PKCS#8.
func pkcs8Of(t *testing.T, pkcs1PEM []byte) []byte {
	t.Helper()
	b, _ := pem.Decode(pkcs1PEM)
	k, err := x509.ParsePKCS1PrivateKey(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func TestKeyMatches(t *testing.T) {
	now := time.Now()
	ecChain, ecKey := certstest.Valid(t, "a.example")
	_, otherECKey := certstest.Valid(t, "a.example")
	rsaChain, rsaKey := certstest.Issue(t, "rsa", now, now.Add(time.Hour), "a.example")
	_, otherRSAKey := certstest.Issue(t, "rsa", now, now.Add(time.Hour), "a.example")
	edChain, edKey := certstest.Issue(t, "ed25519", now, now.Add(time.Hour), "a.example")
	_, otherEdKey := certstest.Issue(t, "ed25519", now, now.Add(time.Hour), "a.example")

	for _, tc := range []struct {
		name  string
		chain []byte
		key   []byte
		want  bool
	}{
		{"ECDSA pair", ecChain, ecKey, true},
		{"RSA pair", rsaChain, rsaKey, true},
		{"Ed25519 pair", edChain, edKey, true},
		{"other ECDSA key", ecChain, otherECKey, false},
		{"other RSA key", rsaChain, otherRSAKey, false},
		{"other Ed25519 key", edChain, otherEdKey, false},
		{"RSA key, ECDSA cert", ecChain, rsaKey, false},
		{"ECDSA key, Ed25519 cert", edChain, ecKey, false},
		{"Ed25519 key, RSA cert", rsaChain, edKey, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leaf, key := mustLeaf(t, tc.chain), mustKey(t, tc.key)
			if got := certs.KeyMatches(leaf, key); got != tc.want {
				t.Fatalf("KeyMatches = %v, want %v", got, tc.want)
			}
			if got := certs.KeyMatchesDER(leaf.Raw, key); got != tc.want {
				t.Fatalf("KeyMatchesDER = %v, want %v", got, tc.want)
			}
		})
	}
	if certs.KeyMatches(nil, mustKey(t, ecKey)) || certs.KeyMatches(mustLeaf(t, ecChain), nil) {
		t.Error("KeyMatches with nil is true")
	}
	// The CA certificate in the chain is not the leaf's key either.
	c, err := certs.ParseChain(ecChain)
	if err != nil {
		t.Fatal(err)
	}
	if certs.KeyMatches(c.Certs[1], mustKey(t, ecKey)) || certs.KeyMatchesDER(c.Certs[1].Raw, mustKey(t, ecKey)) {
		t.Error("leaf key matches the CA certificate")
	}
	// A leaf that is not one DER certificate matches no key.
	der := c.Leaf.Raw
	for name, bad := range map[string][]byte{
		"empty":          nil,
		"truncated":      der[:len(der)-1],
		"trailing bytes": append(slices.Clone(der), 0),
		"PEM, not DER":   ecChain,
		"cut at the key": der[:bytes.Index(der, c.Leaf.RawSubjectPublicKeyInfo)+10],
	} {
		if certs.KeyMatchesDER(bad, mustKey(t, ecKey)) {
			t.Errorf("KeyMatchesDER(%s) = true", name)
		}
	}
	if certs.KeyMatchesDER(der, nil) {
		t.Error("KeyMatchesDER with a nil key is true")
	}
}
