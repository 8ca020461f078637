package keyring

import "errors"

var (
	// ErrUnknownKey means the sealed data names a key id this keyring does
	// not hold: it was sealed under a key that has been removed, or under
	// another installation's keys. The wrapping error names the id, which is
	// not secret.
	ErrUnknownKey = errors.New("keyring: sealed with an unknown key")
	// ErrOpen means authentication failed: the wrong key, tampered data,
	// or associated data other than the one it was sealed with. GCM cannot
	// tell these apart, and neither can we.
	ErrOpen = errors.New("keyring: cannot open sealed data")
	// ErrBadKey means a master key is not a 32-byte AES-256 key, or a key
	// file line is not base64 of one.
	ErrBadKey = errors.New("keyring: bad key")
)
