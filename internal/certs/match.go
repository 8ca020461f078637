package certs

import (
	"bytes"
	"crypto"
	"crypto/x509"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
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

// KeyMatchesDER is KeyMatches for a leaf still in DER: the certificate's
// SubjectPublicKeyInfo is compared byte for byte with the key's public half
// in the same encoding, without parsing the rest of the certificate. An
// edge checks every certificate it loads this way, where a full x509 parse
// would cost as much again as the rest of the load.
func KeyMatchesDER(leafDER []byte, key crypto.Signer) bool {
	spki, ok := subjectPublicKeyInfo(leafDER)
	if !ok || key == nil {
		return false
	}
	want, err := x509.MarshalPKIXPublicKey(key.Public())
	return err == nil && bytes.Equal(spki, want)
}

// subjectPublicKeyInfo finds the SubjectPublicKeyInfo element of a DER
// certificate (RFC 5280 section 4.1: it follows version, serialNumber,
// signature, issuer, validity and subject in the TBSCertificate).
func subjectPublicKeyInfo(der []byte) ([]byte, bool) {
	input := cryptobyte.String(der)
	var cert, tbs, spki cryptobyte.String
	if !input.ReadASN1(&cert, asn1.SEQUENCE) || !input.Empty() ||
		!cert.ReadASN1(&tbs, asn1.SEQUENCE) ||
		!tbs.SkipOptionalASN1(asn1.Tag(0).Constructed().ContextSpecific()) ||
		!tbs.SkipASN1(asn1.INTEGER) ||
		!tbs.SkipASN1(asn1.SEQUENCE) ||
		!tbs.SkipASN1(asn1.SEQUENCE) ||
		!tbs.SkipASN1(asn1.SEQUENCE) ||
		!tbs.SkipASN1(asn1.SEQUENCE) ||
		!tbs.ReadASN1Element(&spki, asn1.SEQUENCE) {
		return nil, false
	}
	return spki, true
}
