package cas

import (
	"errors"
	"time"

	"github.com/cdnd/cdnd/internal/certs"
)

// Limits on what is accepted. A real chain with several intermediates is
// well under these; anything larger is a mistake or an attack.
const (
	MaxChainBytes = 64 << 10
	MaxKeyBytes   = 16 << 10
)

var (
	ErrChainTooLong = errors.New("cas: certificate chain over 64 KB")
	ErrKeyTooLong   = errors.New("cas: private key over 16 KB")
	ErrExpired      = errors.New("cas: certificate has expired")
)

// Pair is a validated certificate chain with its private key.
type Pair struct {
	Chain  *certs.Chain
	keyPEM []byte // canonical PKCS#8, sealed before it is stored
}

// ParsePair validates a chain and its key as an edge will serve them: sizes,
// PEM, parse, key match, validity at now. Errors are this package's or
// certs' sentinels; none contains key material.
func ParsePair(chainPEM, keyPEM string, now time.Time) (*Pair, error) {
	if len(chainPEM) > MaxChainBytes {
		return nil, ErrChainTooLong
	}
	if len(keyPEM) > MaxKeyBytes {
		return nil, ErrKeyTooLong
	}
	chain, chainErr := certs.ParseChain([]byte(chainPEM))
	key, keyErr := certs.ParseKey([]byte(keyPEM))
	if err := errors.Join(chainErr, keyErr); err != nil {
		return nil, err
	}
	if !certs.KeyMatches(chain.Leaf, key) {
		return nil, certs.ErrKeyMismatch
	}
	if now.After(chain.Leaf.NotAfter) {
		return nil, ErrExpired
	}
	canonical, err := certs.EncodeKey(key)
	if err != nil {
		return nil, err
	}
	return &Pair{Chain: chain, keyPEM: canonical}, nil
}
