package certs

import "errors"

// Sentinel errors. Compare with errors.Is: the returned errors wrap these
// with a reason (line numbers, block types, sizes), never with input bytes.
var (
	// ErrNoCertificate means the input has no PEM CERTIFICATE block at all.
	ErrNoCertificate = errors.New("certs: no CERTIFICATE block")
	// ErrMalformedCert means PEM is present but broken: a truncated block,
	// non-whitespace text between or after blocks, a non-CERTIFICATE block
	// mixed into the chain, or DER that does not parse as X.509.
	ErrMalformedCert = errors.New("certs: certificate does not parse")
	// ErrNoKey means the input has no PEM private key block.
	ErrNoKey = errors.New("certs: no private key block")
	// ErrEncryptedKey means the key is password-protected, either with the
	// legacy "Proc-Type: 4,ENCRYPTED" header or as PKCS#8 "ENCRYPTED PRIVATE
	// KEY". Alibaba Cloud CDN does not accept those either, and cdnd has no
	// way to ask for the password.
	ErrEncryptedKey = errors.New("certs: encrypted private keys are not supported")
	// ErrMalformedKey means a private key block is present but broken.
	ErrMalformedKey = errors.New("certs: private key does not parse")
	// ErrUnsupportedKey means the key parses but is not one cdnd serves with:
	// only RSA of 2048 to 8192 bits, ECDSA on P-256, P-384 or P-521, and
	// Ed25519 are accepted.
	ErrUnsupportedKey = errors.New("certs: unsupported private key type")
	// ErrKeyMismatch means the private key is not the one of the leaf
	// certificate. Returned by callers that combine ParseChain, ParseKey and
	// KeyMatches.
	ErrKeyMismatch = errors.New("certs: private key does not match the certificate")
)
