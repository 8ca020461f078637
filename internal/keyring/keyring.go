package keyring

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// KeySize is the size of a master key: AES-256.
const KeySize = 32

// Keyring holds one current key (used to seal) and older keys (only to
// open), so that the master key can be rotated without re-sealing everything
// at once. It is safe for concurrent use; the zero value is not usable, use
// New or ParseKeys.
type Keyring struct {
	current string                 // id of the sealing key
	aeads   map[string]cipher.AEAD // by key id; includes current
}

// KeyID derives the public id of a key: the first 8 bytes of
// SHA-256("cdnd keyring id" || key), in hex (16 characters). It is derived,
// not chosen, so that the same master key always has the same id on every
// node and after every restart, and the id reveals nothing useful about the
// key.
func KeyID(key []byte) string {
	h := sha256.New()
	h.Write([]byte("cdnd keyring id"))
	h.Write(key)
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// New returns a keyring that seals with current and opens with current or
// any of older. Every key must be exactly 32 bytes. A key repeated in older
// (or equal to current) is harmless and counted once.
func New(current []byte, older ...[]byte) (*Keyring, error) {
	k := &Keyring{aeads: make(map[string]cipher.AEAD, 1+len(older))}
	for i, key := range append([][]byte{current}, older...) {
		if len(key) != KeySize {
			return nil, fmt.Errorf("%w: key %d is %d bytes, want %d", ErrBadKey, i+1, len(key), KeySize)
		}
		id := KeyID(key)
		if i == 0 {
			k.current = id
		}
		if _, dup := k.aeads[id]; dup {
			continue
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("%w: key %d: %v", ErrBadKey, i+1, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("%w: key %d: %v", ErrBadKey, i+1, err)
		}
		k.aeads[id] = aead
	}
	return k, nil
}

// CurrentID returns the id of the key Seal uses.
func (k *Keyring) CurrentID() string { return k.current }

// NeedsRotation reports whether s was sealed with a key other than the
// current one, i.e. whether it should be opened and sealed again before the
// older key is retired.
func (k *Keyring) NeedsRotation(s Sealed) bool { return s.KeyID != k.current }
