package certs

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"
)

// RSA key sizes cdnd accepts. Below 2048 bits no public CA issues any more;
// above 8192 bits every TLS handshake becomes expensive enough to be a
// denial-of-service lever on the edge, and Go's own TLS client refuses such
// server keys.
const (
	minRSABits = 2048
	maxRSABits = 8192
)

// ParseKey parses the first private key block in pemData: "RSA PRIVATE KEY"
// (PKCS#1), "EC PRIVATE KEY" (SEC1) or "PRIVATE KEY" (PKCS#8). Blocks before
// it that are not private keys (the certificates of a combined file, the "EC
// PARAMETERS" that openssl ecparam writes) are skipped, and so is everything
// after it; the whole text must still be well-formed PEM, with the same
// leniency as ParseChain.
//
// The returned errors wrap ErrNoKey, ErrEncryptedKey, ErrMalformedKey or
// ErrUnsupportedKey and never include key material: they give the reason
// in fixed words and not the reason of the underlying parser, which is not
// under our control.
func ParseKey(pemData []byte) (crypto.Signer, error) {
	if !bytes.Contains(pemData, []byte("PRIVATE KEY"+dashes)) {
		return nil, ErrNoKey
	}
	blocks, err := scanPEM(pemData)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedKey, err)
	}
	for _, b := range blocks {
		if strings.HasSuffix(b.Type, "PRIVATE KEY") {
			return parseKeyBlock(b)
		}
	}
	return nil, ErrNoKey
}

// parseKeyBlock decodes one private key block.
func parseKeyBlock(b *pem.Block) (crypto.Signer, error) {
	if b.Type == "ENCRYPTED PRIVATE KEY" || b.Headers["DEK-Info"] != "" ||
		strings.Contains(b.Headers["Proc-Type"], "ENCRYPTED") {
		return nil, ErrEncryptedKey
	}
	var parse func([]byte) (any, error)
	switch b.Type {
	case "RSA PRIVATE KEY":
		parse = func(der []byte) (any, error) { return x509.ParsePKCS1PrivateKey(der) }
	case "EC PRIVATE KEY":
		parse = func(der []byte) (any, error) { return x509.ParseECPrivateKey(der) }
	case "PRIVATE KEY":
		parse = x509.ParsePKCS8PrivateKey
	default:
		return nil, fmt.Errorf("%w: %s block", ErrUnsupportedKey, describeType(b.Type))
	}
	// Look before parsing: it tells an unsupported key from a broken one
	// (Go refuses to parse small RSA keys at all), and it spares the
	// expensive validation of an oversized RSA key.
	if reason := outsidePolicy(b.Type, b.Bytes); reason != "" {
		return nil, fmt.Errorf("%w: %s", ErrUnsupportedKey, reason)
	}
	key, err := parse(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %s block does not decode", ErrMalformedKey, b.Type)
	}
	return supportedSigner(key)
}

// supportedSigner returns key as a crypto.Signer if it is of a kind and size
// cdnd serves with, else an ErrUnsupportedKey error.
func supportedSigner(key any) (crypto.Signer, error) {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if bits := k.N.BitLen(); bits < minRSABits || bits > maxRSABits {
			return nil, fmt.Errorf("%w: RSA key of %d bits (want %d to %d)", ErrUnsupportedKey, bits, minRSABits, maxRSABits)
		}
		return k, nil
	case *ecdsa.PrivateKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
			return k, nil
		}
		return nil, fmt.Errorf("%w: ECDSA key on curve %s", ErrUnsupportedKey, k.Curve.Params().Name)
	case ed25519.PrivateKey:
		return k, nil
	}
	return nil, fmt.Errorf("%w: %T", ErrUnsupportedKey, key)
}
