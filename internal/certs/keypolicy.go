package certs

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
)

// This file reads just enough of a private key's ASN.1 to learn its
// algorithm, curve or modulus size without building the key. See
// outsidePolicy for why.

var (
	oidRSA       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidECDSA     = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidEd25519   = asn1.ObjectIdentifier{1, 3, 101, 112}
	oidP256      = asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}
	oidP384      = asn1.ObjectIdentifier{1, 3, 132, 0, 34}
	oidP521      = asn1.ObjectIdentifier{1, 3, 132, 0, 35}
	knownCurves  = []asn1.ObjectIdentifier{oidP256, oidP384, oidP521}
	pkcs8Allowed = []asn1.ObjectIdentifier{oidRSA, oidECDSA, oidEd25519}
)

// oidNames names the algorithms and curves that people do paste, for error
// messages. OIDs come from the input, so unknown ones are not printed.
var oidNames = map[string]string{
	"1.2.840.10040.4.1":     "DSA",
	"1.2.840.113549.1.1.10": "RSASSA-PSS",
	"1.3.101.110":           "X25519",
	"1.3.101.111":           "X448",
	"1.3.101.113":           "Ed448",
	"1.2.156.10197.1.301":   "SM2",
	"1.3.132.0.10":          "secp256k1",
	"1.3.132.0.33":          "P-224",
	"1.3.36.3.3.2.8.1.1.7":  "brainpoolP256r1",
	"1.3.36.3.3.2.8.1.1.11": "brainpoolP384r1",
	"1.3.36.3.3.2.8.1.1.13": "brainpoolP512r1",
}

func oidName(oid asn1.ObjectIdentifier) string {
	if name, ok := oidNames[oid.String()]; ok {
		return name
	}
	return "unrecognised"
}

// The structures below are prefixes of the real ones: encoding/asn1 allows
// a SEQUENCE to carry more elements than the struct has fields.

type pkcs1Prefix struct { // RFC 8017 RSAPrivateKey
	Version int
	N       *big.Int
}

type sec1Prefix struct { // RFC 5915 ECPrivateKey
	Version    int
	PrivateKey []byte
	Curve      asn1.ObjectIdentifier `asn1:"optional,explicit,tag:0"`
}

type pkcs8Prefix struct { // RFC 5208 PrivateKeyInfo
	Version    int
	Algorithm  pkix.AlgorithmIdentifier
	PrivateKey []byte
}

// outsidePolicy returns why a key of PEM type typ with DER der is outside
// what cdnd accepts, or "" when it is acceptable or its structure cannot be
// read (then the real parser decides and reports it as malformed).
//
// The real parsers are not enough on their own: crypto/x509 refuses to parse
// RSA keys under 1024 bits and unknown curves at all, which would make them
// "malformed" when the honest answer is "unsupported"; and it validates an
// RSA key fully before we could reject it for its size.
func outsidePolicy(typ string, der []byte) string {
	switch typ {
	case "RSA PRIVATE KEY":
		return rsaOutsidePolicy(der)
	case "EC PRIVATE KEY":
		var k sec1Prefix
		if _, err := asn1.Unmarshal(der, &k); err != nil || len(k.Curve) == 0 {
			return ""
		}
		return curveOutsidePolicy(k.Curve)
	case "PRIVATE KEY":
		var k pkcs8Prefix
		if _, err := asn1.Unmarshal(der, &k); err != nil {
			return ""
		}
		alg := k.Algorithm.Algorithm
		switch {
		case !oneOf(alg, pkcs8Allowed):
			return fmt.Sprintf("PKCS#8 key of algorithm %s", oidName(alg))
		case alg.Equal(oidRSA):
			return rsaOutsidePolicy(k.PrivateKey)
		case alg.Equal(oidECDSA):
			var curve asn1.ObjectIdentifier
			if _, err := asn1.Unmarshal(k.Algorithm.Parameters.FullBytes, &curve); err != nil {
				return ""
			}
			return curveOutsidePolicy(curve)
		}
	}
	return ""
}

func rsaOutsidePolicy(der []byte) string {
	var k pkcs1Prefix
	if _, err := asn1.Unmarshal(der, &k); err != nil || k.N == nil {
		return ""
	}
	if bits := k.N.BitLen(); bits < minRSABits || bits > maxRSABits {
		return fmt.Sprintf("RSA key of %d bits (want %d to %d)", bits, minRSABits, maxRSABits)
	}
	return ""
}

func curveOutsidePolicy(curve asn1.ObjectIdentifier) string {
	if oneOf(curve, knownCurves) {
		return ""
	}
	return fmt.Sprintf("ECDSA key on curve %s", oidName(curve))
}

func oneOf(oid asn1.ObjectIdentifier, set []asn1.ObjectIdentifier) bool {
	for _, o := range set {
		if oid.Equal(o) {
			return true
		}
	}
	return false
}
