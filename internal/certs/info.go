package certs

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"strings"
)

// Fingerprint is the lower-case hex SHA-256 of the leaf's DER. It identifies
// certificate content (Alibaba's CertificateContent.Duplicated check, edge
// caches), independent of the name it was uploaded under.
func Fingerprint(leaf *x509.Certificate) string {
	sum := sha256.Sum256(leaf.Raw)
	return hex.EncodeToString(sum[:])
}

// SHA1Fingerprint is the upper-case hex SHA-1 of the leaf's DER without
// separators: the form Alibaba's certificate list API reports in its
// Fingerprint field, which clients compare against.
func SHA1Fingerprint(leaf *x509.Certificate) string {
	sum := sha1.Sum(leaf.Raw)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// KeyAlgorithm returns "RSA", "ECDSA", "Ed25519" or "DSA" for the leaf's
// public key, the values of Alibaba's CertType field in
// DescribeCdnDomainByCertificate, and "" for any other algorithm.
func KeyAlgorithm(leaf *x509.Certificate) string {
	switch leaf.PublicKeyAlgorithm {
	case x509.RSA:
		return "RSA"
	case x509.ECDSA:
		return "ECDSA"
	case x509.Ed25519:
		return "Ed25519"
	case x509.DSA:
		return "DSA"
	}
	return ""
}

// IssuerOrg returns the issuer's first Organization, or its CN when it has
// none: the short issuer name Alibaba's list API shows ("Let's Encrypt",
// "DigiCert Inc").
func IssuerOrg(leaf *x509.Certificate) string {
	for _, org := range leaf.Issuer.Organization {
		if org != "" {
			return org
		}
	}
	return leaf.Issuer.CommonName
}
