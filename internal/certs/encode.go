package certs

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
)

// EncodeChain returns the canonical PEM of the chain: leaf first, 64-column
// base64, "\n" line endings, no blank lines between blocks. This is what the
// API stores and returns, whatever form the user pasted, so that the same
// certificate always reads back byte-for-byte the same.
func EncodeChain(c *Chain) []byte {
	if c == nil {
		return nil
	}
	var buf bytes.Buffer
	for _, der := range c.DER {
		// pem.Encode cannot fail on a bytes.Buffer with no headers.
		_ = pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	}
	return buf.Bytes()
}

// EncodeKey returns key as canonical PKCS#8 PEM ("PRIVATE KEY"), so that a
// key is sealed in one form whichever of PKCS#1, SEC1 or PKCS#8 it arrived
// in. It refuses keys ParseKey would refuse (ErrUnsupportedKey), so nothing
// the edge cannot serve with is ever sealed.
func EncodeKey(key crypto.Signer) ([]byte, error) {
	if key == nil {
		return nil, fmt.Errorf("%w: no key", ErrUnsupportedKey)
	}
	if _, err := supportedSigner(key); err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %T cannot be encoded as PKCS#8", ErrUnsupportedKey, key)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}
