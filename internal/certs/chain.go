package certs

import (
	"bytes"
	"crypto/x509"
	"fmt"
)

// maxChainCerts bounds the number of blocks ParseChain accepts. Real chains
// have two to four certificates; the bound keeps the quadratic ordering (and
// the parsing) of hostile input cheap.
const maxChainCerts = 64

// Chain is a parsed certificate chain, leaf first, as the CDN serves it.
type Chain struct {
	Leaf  *x509.Certificate
	Certs []*x509.Certificate // Certs[0] == Leaf
	DER   [][]byte            // DER[i] is Certs[i].Raw
}

// ParseChain parses PEM holding one or more CERTIFICATE blocks.
//
// It is lenient in what real users paste: CRLF line endings, leading and
// trailing white space, blank lines between blocks, a UTF-8 byte-order mark.
// Any other text between or after the blocks, a block of another type (a key
// pasted into the certificate field) or a certificate that does not parse is
// ErrMalformedCert, as is a chain of more than 64 blocks; input without any
// CERTIFICATE block is ErrNoCertificate.
//
// Duplicate certificates are dropped and the rest put in serving order (see
// orderChain): users often paste the chain reversed, as some CAs ship it,
// and a TLS client given the intermediates first fails to build a path.
func ParseChain(pemData []byte) (*Chain, error) {
	if !bytes.Contains(pemData, []byte(beginPrefix+"CERTIFICATE"+dashes)) {
		return nil, ErrNoCertificate
	}
	blocks, err := scanPEM(pemData)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedCert, err)
	}
	if len(blocks) > maxChainCerts {
		return nil, fmt.Errorf("%w: %d blocks, more than the %d a chain may have", ErrMalformedCert, len(blocks), maxChainCerts)
	}
	var parsed []*x509.Certificate
	for i, b := range blocks {
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%w: block %d is %s, not CERTIFICATE", ErrMalformedCert, i+1, describeType(b.Type))
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			// Certificates are public, so x509's reason may be shown.
			return nil, fmt.Errorf("%w: block %d: %v", ErrMalformedCert, i+1, err)
		}
		if !containsCert(parsed, cert) {
			parsed = append(parsed, cert)
		}
	}
	if len(parsed) == 0 {
		return nil, ErrNoCertificate
	}
	ordered := orderChain(parsed)
	c := &Chain{Leaf: ordered[0], Certs: ordered, DER: make([][]byte, len(ordered))}
	for i, cert := range ordered {
		c.DER[i] = cert.Raw
	}
	return c, nil
}

func containsCert(certs []*x509.Certificate, c *x509.Certificate) bool {
	for _, have := range certs {
		if have.Equal(c) {
			return true
		}
	}
	return false
}
