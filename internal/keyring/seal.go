package keyring

import (
	"crypto/rand"
	"fmt"
)

// Sealed is what is stored in etcd instead of a secret. JSON-serialisable
// (the byte slices as base64).
type Sealed struct {
	KeyID string `json:"kid"`
	Nonce []byte `json:"n"`
	Data  []byte `json:"d"` // ciphertext+tag
}

// adPrefix versions the associated-data layout, so that a future format
// cannot be confused with this one.
const adPrefix = "cdnd/v1\x00"

// associatedData is what GCM authenticates besides the ciphertext: the
// format version, the key id and the caller's aad. The key id is bound so
// that relabelling a blob with another id fails even if both keys are held;
// the NUL separators (key ids are hex) keep the parts unambiguous.
func associatedData(kid string, aad []byte) []byte {
	ad := make([]byte, 0, len(adPrefix)+len(kid)+1+len(aad))
	ad = append(ad, adPrefix...)
	ad = append(ad, kid...)
	ad = append(ad, 0)
	return append(ad, aad...)
}

// Seal encrypts plaintext with the current key. aad binds the ciphertext to
// its record (e.g. "cert/{account}/{name}") so that a sealed blob copied onto
// another record fails to open; pass the same aad to Open.
//
// Nonces are random: at the volumes cdnd seals (keys and secrets, not
// traffic) the GCM limit of about 2^32 seals per key is far away, and rotation
// resets it.
func (k *Keyring) Seal(plaintext, aad []byte) (Sealed, error) {
	nonce := make([]byte, k.aeads[k.current].NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return Sealed{}, fmt.Errorf("keyring: nonce: %v", err)
	}
	return k.sealWithNonce(k.current, nonce, plaintext, aad), nil
}

// sealWithNonce is Seal with the key id and nonce given. Only Seal and tests
// call it: tests need seals that are the same in every process.
func (k *Keyring) sealWithNonce(kid string, nonce, plaintext, aad []byte) Sealed {
	return Sealed{
		KeyID: kid,
		Nonce: nonce,
		Data:  k.aeads[kid].Seal(nil, nonce, plaintext, associatedData(kid, aad)),
	}
}

// Open decrypts s, which must have been sealed with the same aad. It fails
// with ErrUnknownKey if s names a key the keyring does not hold, and with
// ErrOpen if s does not authenticate.
func (k *Keyring) Open(s Sealed, aad []byte) ([]byte, error) {
	aead, ok := k.aeads[s.KeyID]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownKey, printableID(s.KeyID))
	}
	if len(s.Nonce) != aead.NonceSize() || len(s.Data) < aead.Overhead() {
		return nil, ErrOpen
	}
	plaintext, err := aead.Open(nil, s.Nonce, s.Data, associatedData(s.KeyID, aad))
	if err != nil {
		return nil, ErrOpen
	}
	return plaintext, nil
}

// printableID shortens a key id read from the store for an error message:
// real ids are 16 hex characters, and a corrupted record should not be able
// to put kilobytes into a log line.
func printableID(id string) string {
	const max = 32
	if len(id) > max {
		return id[:max] + "..."
	}
	return id
}
