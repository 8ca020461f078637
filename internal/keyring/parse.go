package keyring

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
)

// ParseKeys builds a keyring from a key file: one base64 (standard
// encoding) 32-byte key per line; blank lines and lines starting with "#"
// are ignored; the first key is current, the others older. A file is the
// unit operators rotate with: prepend a new line from Generate, restart or
// reload, re-seal, then delete the old line.
//
// Errors name line numbers and lengths, never line contents: a key file
// with one typo must not put its other keys into a log.
func ParseKeys(text []byte) (*Keyring, error) {
	var keys [][]byte
	for i, line := range bytes.Split(text, []byte("\n")) {
		line = bytes.TrimSpace(bytes.TrimPrefix(line, []byte("\uFEFF")))
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		key := make([]byte, base64.StdEncoding.DecodedLen(len(line)))
		n, err := base64.StdEncoding.Decode(key, line)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d is not standard base64", ErrBadKey, i+1)
		}
		if n != KeySize {
			return nil, fmt.Errorf("%w: line %d holds %d bytes, want %d", ErrBadKey, i+1, n, KeySize)
		}
		keys = append(keys, key[:n])
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: no keys", ErrBadKey)
	}
	return New(keys[0], keys[1:]...)
}

// Generate returns a new random key and its line form for a key file.
func Generate() (key []byte, line string, err error) {
	key = make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, "", fmt.Errorf("keyring: generate: %v", err)
	}
	return key, base64.StdEncoding.EncodeToString(key), nil
}
