package certs

import (
	"crypto"
	"crypto/x509"
)

// KeyMatches reports whether key is the private half of leaf's public key.
// Alibaba rejects such uploads (Certificate.MissMatch), and a mismatched pair
// would otherwise only fail later, in every TLS handshake on the edge.
func KeyMatches(leaf *x509.Certificate, key crypto.Signer) bool {
	if leaf == nil || key == nil {
		return false
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(leaf.PublicKey)
}
